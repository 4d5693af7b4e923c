"""The layers hold: no import cycle between modules, a domain free of frameworks and of the
read side, and no function too long to read at once."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from function_lengths import LIMIT, functions  # noqa: E402

PACKAGES = ("api", "bench", "cli", "domain", "readmodels", "service", "workers")
WEB = ("flask", "flask_smorest", "werkzeug", "api")
# What each layer may not import (by top-level package), and why.
MAY_NOT_IMPORT = {
    # The rules run anywhere, an in-memory unit of work included.
    "domain": (*WEB, "celery", "kombu", "readmodels", "service", "cli"),
    # HTTP, the CLI, the bench and the tests run commands through the same code.
    "service": (*WEB, "celery", "kombu", "cli"),
    # The command line starts the API as a process; it does not run inside it.
    "cli": WEB,
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def imported(path: Path, name: str) -> Iterator[str]:
    """What a module imports, at its top or inside functions; `if TYPE_CHECKING:` blocks
    aside (they never run)."""
    is_package = path.name == "__init__.py"
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for child in node.orelse for n in [child, *_runtime_nodes(child)])
            continue
        yield node
        yield from _runtime_nodes(node)


def graph() -> dict[str, set[str]]:
    known = modules()
    return {
        name: {target for target in imported(path, name) if target in known and target != name}
        for name, path in known.items()
    }


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def parents_of(name: str) -> set[str]:
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def test_no_module_imports_one_that_imports_it_back() -> None:
    edges = graph()
    # A package's __init__ that imports its own modules is no cycle: importing
    # `api.queries` runs `api` first whatever `api.queries` says.
    edges = {
        name: {t for t in targets if name not in parents_of(t)} for name, targets in edges.items()
    }
    assert cycles(edges) == []


@pytest.mark.parametrize("layer", sorted(MAY_NOT_IMPORT))
def test_a_layer_imports_nothing_it_may_not(layer: str) -> None:
    offending = {
        name: sorted(
            target
            for target in imported(path, name)
            if target.split(".")[0] in MAY_NOT_IMPORT[layer]
        )
        for name, path in modules().items()
        if name.split(".")[0] == layer
    }
    assert {name: found for name, found in offending.items() if found} == {}


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_relative_imports_resolve_to_modules() -> None:
    spec = importlib.util.find_spec("readmodels.catchup.checkpoints")
    assert spec is not None and spec.origin is not None
    targets = set(imported(Path(spec.origin), "readmodels.catchup.checkpoints"))
    assert "readmodels.registry" in targets and "domain.store.event_log" in targets


def test_no_function_is_too_long_to_read_at_once() -> None:
    too_long = sorted((f for f in functions() if f.lines >= LIMIT), reverse=True)
    assert too_long == [], f"functions of {LIMIT} lines or more (scripts/function_lengths.py)"


def test_the_type_checker_finds_nothing() -> None:
    # Strict on domain/ and readmodels/, the rest checked as typed (pyproject.toml [tool.mypy]).
    result = subprocess.run(
        [sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
