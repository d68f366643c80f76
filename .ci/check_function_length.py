"""Fail when a function (or method) under the given folders is longer than MAX_LINES lines.

Used by ``make lint`` on ``streams/``: a stage is read one short function at a time. A function
that must stay longer goes in ALLOWED with the reason. Usage:
``python .ci/check_function_length.py [--max N] PATH...``; exit status 1 on a violation.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

MAX_LINES = 80
#: "path:function" -> why it may be longer.
ALLOWED: dict[str, str] = {}


def long_functions(paths: list[Path], max_lines: int) -> list[str]:
    """``path:line name (n lines)`` of every function longer than ``max_lines``."""
    found = []
    for root in paths:
        files = [root] if root.is_file() else sorted(root.rglob("*.py"))
        for path in files:
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    length = node.end_lineno - node.lineno + 1
                    if length > max_lines and f"{path}:{node.name}" not in ALLOWED:
                        found.append(f"{path}:{node.lineno} {node.name} ({length} lines)")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max", type=int, default=MAX_LINES)
    parser.add_argument("paths", nargs="+", type=Path)
    args = parser.parse_args(argv)
    found = long_functions(args.paths, args.max)
    for line in found:
        sys.stdout.write(
            f"{line}: longer than {args.max} lines; split it, or allow it in {__file__}\n"
        )
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
