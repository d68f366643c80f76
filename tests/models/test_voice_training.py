"""Training and evaluating the voice model on synthetic emotional speech (espeak-ng, seeded)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from streams.cli import cli


@pytest.mark.slow
# Two folds of CRNN training (three voices each way): still the longest test on a slow machine.
# The suite-wide 600 s timeout guards against hangs; it is not a speed check, so this test gets
# more room.
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
            "2",
            "--row",
            "method",
            "--no-reference",
            "--max-epochs",
            "12",
            "--patience",
            "4",
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
    assert method["paper_accuracy"] == 72.6 and len(method["per_fold"]) == 2
    assert method["kind"] == "paper" and report["champion"] == method["name"]  # the only row
    # Test folds hold voices never heard in training; chance is 25 %.
    assert method["accuracy_mean"] >= 0.6, report
    assert np.array(report["confusion"]).shape == (4, 4)
    assert (out / "confusion.png").exists() and "72.6" in result.output
    # Probabilities calibrated by a temperature fitted on each training side's own validation
    # speakers: the out-of-fold ECE is reported raw and scaled, with a reliability diagram.
    assert 0 <= method["ece"] <= 1 and 0 <= method["ece_uncalibrated"] <= 1
    assert sum(b["count"] for b in method["reliability"]) == 96
    assert (out / "reliability.png").exists() and "ECE" in result.output


def test_train_voice_cross_validates_the_configuration_it_trains_and_stores_the_accuracy(
    tmp_path, monkeypatch
) -> None:
    """The wiring of ``train voice --cv-folds``; training itself is replaced by a tiny model here
    (a real voice fit costs about 18 s per fold, mostly tracing; the music test trains for real)."""
    import keras

    from models import voice_jobs
    from models.datasets.synthetic_speech import write_synthetic_speech
    from models.voice_model import VOICE_METHOD

    speech = tmp_path / "speech"
    write_synthetic_speech(speech, clips_per_voice=1, seed=7)
    seen = {}

    def fake_evaluate(samples, labels, groups, *, folds, seed, rows, splits=None, corpora=None):
        assert splits is None  # one corpus: no cross-corpus validation
        seen.update(clips=len(samples), folds=folds, rows=rows)
        return {
            "folds": folds,
            "rows": [{"name": rows[0].name, "accuracy_mean": 0.5, "per_fold": [0.4, 0.6]}],
        }

    def fake_fit(config, samples, labels, groups, *, seed, verbose):
        tiny = keras.Sequential([keras.Input((2,)), keras.layers.Dense(4)])
        return tiny, {"loss": [1.0], "accuracy": [0.5]}

    monkeypatch.setattr(voice_jobs, "evaluate_voice", fake_evaluate)
    monkeypatch.setattr(voice_jobs, "fit_voice_model", fake_fit)
    monkeypatch.setattr(voice_jobs, "voice_temperature", lambda *a, **k: 1.25)
    config = VOICE_METHOD.with_(max_epochs=1)
    record, out = voice_jobs.run_train_voice(
        speech, cache_dir=tmp_path / "cache", registry=None, model=config, group_col="speaker",
        cv_folds=2, out_dir=tmp_path / "out",
    )  # fmt: skip
    assert record is None and seen == {"clips": 24, "folds": 2, "rows": (config,)}
    training = json.loads((out / "training.json").read_text())
    assert training["temperature"] == 1.25  # the calibration travels with the model
    metrics = training["metrics"]
    assert (metrics["cv_accuracy"], metrics["cv_folds"], metrics["cv_per_fold"]) == (
        0.5,
        2,
        [0.4, 0.6],
    )


def _split_corpus(source, root, parts: dict[str, set[str]]):
    """Copies of ``source``'s labels as several corpora, by speaker (absolute audio paths)."""
    import csv

    from models.datasets.corpora import is_synthetic, mark_synthetic

    rows = list(csv.DictReader(open(source / "labels.csv", newline="")))
    folders = []
    for name, speakers in parts.items():
        folder = root / name
        folder.mkdir(parents=True)
        with open(folder / "labels.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            for row in rows:
                if row["speaker"] in speakers:
                    writer.writerow({**row, "path": str((source / row["path"]).resolve())})
        if is_synthetic(source):
            mark_synthetic(folder)
        folders.append(folder)
    return folders


def test_evaluate_voice_across_corpora_leaves_each_corpus_out_once(
    tmp_path, synthetic_speech_dir
) -> None:
    """Issue 28: ``--protocol loco`` beside the pooled grouped CV, and the table of in-corpus
    and cross-corpus figures docs/voice-model.md quotes."""
    import csv

    speakers = sorted(
        {r["speaker"] for r in csv.DictReader(open(synthetic_speech_dir / "labels.csv"))}
    )
    half = len(speakers) // 2
    corpora = _split_corpus(
        synthetic_speech_dir,
        tmp_path,
        {"alpha_a": set(speakers[:half]), "beta_b": set(speakers[half:])},
    )
    out = tmp_path / "eval"
    result = CliRunner().invoke(
        cli,
        ["evaluate", "voice", *[a for c in corpora for a in ("--data", str(c))], "--folds", "3",
         "--row", "functionals-listener-lr", "--no-reference", "--protocol", "loco",
         "--out", str(out)],
        env={"MOODSTREAM_HOME": str(tmp_path / "home")}, catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["data"] == [str(c) for c in corpora]
    assert report["loco"]["fold_names"] == ["alpha_a", "beta_b"] and report["loco"]["folds"] == 2
    (row,) = report["rows"]
    assert set(row["per_corpus_accuracy"]) == {"alpha_a", "beta_b"}
    table = report["across_corpora"][row["name"]]
    (loco_row,) = report["loco"]["rows"]
    assert table["corpora"]["alpha_a"]["cross_corpus"] == loco_row["per_fold"][0]
    assert table["mean_cross_corpus"] == loco_row["accuracy_mean"]
    assert 0 <= table["ece_cross_corpus"] <= 1 and 0 <= table["uncertain_rate_cross_corpus"] <= 1
    assert report["champion_rule"]["rule"].startswith("best pooled grouped-CV accuracy")


@pytest.mark.parametrize(
    ("key", "speed_copies"),
    [("quality-listener-lr", []), ("quality-listener-lr-speed", [0.9, 1.1])],
)
def test_a_model_trained_on_two_corpora_carries_its_cross_corpus_figures(
    tmp_path, synthetic_speech_dir, key: str, speed_copies: list[float]
) -> None:
    """Issue 28: what a served model heard, and how it reads a corpus it did not, travel with
    it (the demo's summary and /health print them). The logistic-regression candidate keeps the
    test quick: the wiring is the same for every candidate."""
    import csv

    speakers = sorted(
        {r["speaker"] for r in csv.DictReader(open(synthetic_speech_dir / "labels.csv"))}
    )
    corpora = _split_corpus(
        synthetic_speech_dir, tmp_path, {"alpha_a": set(speakers[:3]), "beta_b": set(speakers[3:])}
    )
    out = tmp_path / "model"
    result = CliRunner().invoke(
        cli,
        ["train", "voice", *[a for c in corpora for a in ("--data", str(c))], "--cv-folds", "3",
         "--model", key, "--no-push", "--out", str(out)],
        env={"MOODSTREAM_HOME": str(tmp_path / "home")}, catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    training = json.loads((out / "training.json").read_text())
    metrics = training["metrics"]
    assert metrics["corpora"] == ["alpha_a", "beta_b"] and metrics["synthetic_only"] is True
    assert set(metrics["cross_corpus_accuracy"]) == {"alpha_a", "beta_b"}
    assert set(metrics["cv_per_corpus"]) == {"alpha_a", "beta_b"}
    assert training["corpora"]["alpha_a"]["synthetic"] is True
    assert training["model"] == key and training["speed_copies"] == speed_copies
    # The speed candidate's copies are cached beside the voice inputs, two per clip.
    cached = list((tmp_path / "home").rglob("voice-augmented/*/*.npy"))
    assert len(cached) == 2 * 96 * bool(speed_copies)
