"""The rules ``make lint`` enforces on the worker's code (issue 29): no function in ``streams/``
over 80 lines, and no stage module importing another. Each is shown to catch a planted
violation, and to pass on the code as it is."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECKER = ROOT / ".ci" / "check_function_length.py"
STAGES = ROOT / "streams" / "stages"


def _check(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(CHECKER), *map(str, paths)], capture_output=True, text=True
    )


def test_no_function_in_streams_is_over_80_lines() -> None:
    result = _check(ROOT / "streams")
    assert result.returncode == 0, result.stdout


def test_a_planted_long_function_fails_the_check(tmp_path) -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(85))
    (tmp_path / "planted.py").write_text(f"def planted():\n{body}\n")
    (tmp_path / "short.py").write_text("async def fine():\n    return 1\n")
    result = _check(tmp_path)
    assert result.returncode == 1
    assert "planted.py:1 planted (86 lines)" in result.stdout and "fine" not in result.stdout


def _stage_imports(source: str) -> set[str]:
    """The ``streams.stages.*`` modules a source imports (``loops`` aside: every stage runs it)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {
        n for n in names if n.startswith("streams.stages.") and n != "streams.stages.loops"
        and n.count(".") == 2
    }  # fmt: skip


def test_no_stage_imports_another_stage() -> None:
    stages = sorted(p for p in STAGES.glob("*.py") if p.stem not in {"__init__", "loops"})
    assert {p.stem for p in stages} >= {"registration", "features", "labelling", "themes", "clips", "feedback"}  # fmt: skip
    for path in stages:
        others = _stage_imports(path.read_text()) - {f"streams.stages.{path.stem}"}
        assert not others, f"{path.name} imports {others}: stages talk through topics and tables"


def test_a_planted_stage_import_is_caught() -> None:
    planted = (
        "from streams.stages.themes import card_of\nfrom streams.stages.loops import each_event\n"
    )
    assert _stage_imports(planted) == {"streams.stages.themes"}
