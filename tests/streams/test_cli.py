"""The ``moodstream`` command line: lazy command groups, and every documented command exists."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from streams.cli import COMMANDS, cli

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("tensorflow", "keras", "faust", "aiokafka", "librosa", "sklearn", "gensim", "numba")

_PROBE = """
import json, sys
args, watched = json.loads(sys.argv[1]), set(json.loads(sys.argv[2]))
from streams.cli import main
sys.argv = ["moodstream", *args]
code = None
try:
    main()
except SystemExit as exc:
    code = exc.code
heavy = sorted({m.split(".")[0] for m in sys.modules} & watched)
print(json.dumps({"code": code, "heavy": heavy}), file=sys.stderr)
"""


def _run_help(args: list[str]) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(args), json.dumps(HEAVY)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    probe = json.loads(result.stderr.strip().splitlines()[-1])
    return {**probe, "stdout": result.stdout}


@pytest.mark.parametrize("args", [["--help"], ["train", "--help"], ["bench", "--help"]])
def test_help_loads_neither_tensorflow_nor_faust(args) -> None:
    probe = _run_help(args)
    assert probe["code"] == 0, probe["stdout"]
    assert probe["heavy"] == []


def test_root_help_lists_every_command_group() -> None:
    stdout = _run_help(["--help"])["stdout"]
    for name in COMMANDS:
        assert re.search(rf"^  {name}\b", stdout, re.M), f"{name} missing from --help"


def _documented_commands() -> set[tuple[str, ...]]:
    """``moodstream <command> [<sub-command>]`` as the README, docs/, the Makefile and the
    profiles write it."""
    texts = [
        ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "Makefile",
        *sorted((ROOT / "crawler/profiles").glob("*")),
    ]  # fmt: skip
    found = set()
    for path in texts:
        for match in re.finditer(
            r"moodstream ((?:[a-z][a-z-]*)(?: [a-z][a-z-]*)?)", path.read_text()
        ):
            words = tuple(match.group(1).split())
            if words[0] in COMMANDS:
                found.add(words)
    return found


def test_every_command_the_readme_and_makefile_use_exists() -> None:
    documented = _documented_commands()
    assert ("stack", "up") in documented and ("bench", "features") in documented
    ctx = click.Context(cli)
    for words in documented:
        command = cli.get_command(ctx, words[0])
        assert command is not None, words
        if isinstance(command, click.Group) and len(words) > 1:
            sub = command.get_command(ctx, words[1])
            assert sub is not None, f"`moodstream {' '.join(words)}` is documented but missing"


def test_an_unknown_command_is_refused_with_the_list() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", "trian"], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 2
    assert "No such command 'trian'" in result.stderr


def test_the_music_model_keys_of_the_cli_are_the_trainable_models() -> None:
    from models.music_jobs import DEFAULT_MUSIC_MODEL, MUSIC_MODELS
    from streams.cli.model_jobs import DEFAULT_MUSIC_MODEL_KEY, MUSIC_MODEL_KEYS

    assert MUSIC_MODEL_KEYS == tuple(MUSIC_MODELS)
    assert DEFAULT_MUSIC_MODEL_KEY == DEFAULT_MUSIC_MODEL


def test_the_voice_row_keys_of_the_cli_are_the_rows_and_candidates() -> None:
    from models.voice_jobs import DEFAULT_VOICE_MODEL, VOICE_MODELS
    from streams.cli.model_jobs import DEFAULT_VOICE_MODEL_KEY, VOICE_ROW_KEYS

    assert VOICE_ROW_KEYS == tuple(VOICE_MODELS)
    assert DEFAULT_VOICE_MODEL_KEY == DEFAULT_VOICE_MODEL


def test_network_options_are_refused_for_an_embedding_candidate(tmp_path) -> None:
    from click.testing import CliRunner

    (tmp_path / "labels.csv").write_text("path,emotion\n")
    result = CliRunner().invoke(
        cli, ["train", "music", "--data", str(tmp_path), "--max-epochs", "5", "--no-push"]
    )
    assert result.exit_code == 2
    assert "embedding-stats-lr is a logistic regression" in result.output
