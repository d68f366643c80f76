"""Training and evaluating the voice model on synthetic emotional speech (espeak-ng, seeded)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from streams.cli import cli


@pytest.mark.slow
# Three folds of CRNN training: far longer than any other test on a slow machine. The suite-wide
# 600 s timeout guards against hangs; it is not a speed check, so this test gets more room.
@pytest.mark.timeout(1800)
def test_evaluate_voice_cli_is_well_above_chance_on_unseen_speakers(
    tmp_path, synthetic_speech_dir
) -> None:
    out = tmp_path / "eval"
    result = CliRunner().invoke(
        cli,
        [
            "evaluate",
            "voice",
            "--data",
            str(synthetic_speech_dir),
            "--group-col",
            "speaker",
            "--folds",
            "3",
            "--row",
            "method",
            "--no-reference",
            "--max-epochs",
            "20",
            "--patience",
            "5",
            "--out",
            str(out),
        ],  # fmt: skip
        env={"MOODSTREAM_HOME": str(tmp_path / "home")},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["groups"] == 6 and report["clips"] == 96
    (method,) = report["rows"]
    assert method["paper_accuracy"] == 72.6 and len(method["per_fold"]) == 3
    assert method["kind"] == "paper" and report["champion"] == method["name"]  # the only row
    # Test folds hold voices never heard in training; chance is 25 %.
    assert method["accuracy_mean"] >= 0.6, report
    assert np.array(report["confusion"]).shape == (4, 4)
    assert (out / "confusion.png").exists() and "72.6" in result.output
