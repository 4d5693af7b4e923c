"""The longest functions of the product's code: api/, cli/, domain/, readmodels/, service/
and workers/.

A function's length runs from its `def` line to its last line, decorators and nested
functions included. Migrations are left out (each is one long list of DDL by nature).

    python scripts/function_lengths.py            # the ten longest; exit 1 if any is too long
    python scripts/function_lengths.py --top 30 --limit 40
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("api", "cli", "domain", "readmodels", "service", "workers")
LIMIT = 50


@dataclass(frozen=True, order=True)
class Function:
    lines: int
    where: str


def functions(root: Path = ROOT) -> Iterator[Function]:
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            if "migrations" in path.relative_to(root).parts:
                continue
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    assert node.end_lineno is not None
                    yield Function(
                        lines=node.end_lineno - node.lineno + 1,
                        where=f"{path.relative_to(root)}:{node.lineno} {node.name}",
                    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=10, help="how many to list")
    parser.add_argument("--limit", type=int, default=LIMIT, help="a function this long fails")
    args = parser.parse_args()
    ranked = sorted(functions(), reverse=True)
    for function in ranked[: args.top]:
        print(f"{function.lines:5}  {function.where}")
    too_long = [f for f in ranked if f.lines >= args.limit]
    if too_long:
        print(f"{len(too_long)} function(s) of {args.limit} lines or more", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
