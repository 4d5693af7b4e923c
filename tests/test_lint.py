"""The tree stays ruff clean."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_finds_nothing() -> None:
    ruff = str(Path(sys.executable).parent / "ruff")
    ruff = ruff if Path(ruff).exists() else (shutil.which("ruff") or ruff)
    if not Path(ruff).exists():
        pytest.fail("ruff is not installed (it is in the dev extra)")
    result = subprocess.run([ruff, "check", str(ROOT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
