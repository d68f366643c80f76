"""Training and evaluating the music model from labelled folders (synthetic, seeded)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from models.datasets.labelled import read_labelled_folder
from models.exceptions import DatasetError
from models.feature_cache import MusicFeatureCache
from streams.cli import cli


def _labels(folder, text: str):
    (folder / "labels.csv").write_text(text)
    return folder


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("file,emotion\na.wav,sad\n", "no 'path' column"),
        ("path,emotion\na.wav,melancholy\n", "'melancholy' is not one of"),
        ("path,emotion\nmissing.wav,sad\n", "does not exist"),
        ("path,emotion\n", "lists no clips"),
    ],
)
def test_labelled_folder_errors_name_the_problem(tmp_path, text, message) -> None:
    (tmp_path / "a.wav").write_bytes(b"")
    with pytest.raises(DatasetError, match=message):
        read_labelled_folder(_labels(tmp_path, text))
    with pytest.raises(DatasetError, match="no group column 'song'"):
        read_labelled_folder(_labels(tmp_path, "path,emotion\na.wav,sad\n"), group_col="song")


def test_feature_cache_is_keyed_by_content_and_names_corrupt_files(tmp_path, synthetic_music_dir):
    source = sorted(synthetic_music_dir.glob("*.flac"))[0]
    renamed = tmp_path / "renamed.flac"
    shutil.copy(source, renamed)
    cache = MusicFeatureCache(tmp_path / "cache")
    (first,), (h1,) = cache.features([source])
    assert first.shape[1] == 62 and first.shape[0] == 4  # 12 s -> four 3 s segments
    calls = []
    (second,), (h2,) = cache.features([renamed], progress=calls.append)
    assert h1 == h2 and calls == []  # same bytes under another name: served from the cache
    np.testing.assert_array_equal(first, second)
    corrupt = tmp_path / "corrupt.flac"
    corrupt.write_bytes(b"fLaC" + bytes(300))
    with pytest.raises(DatasetError, match="corrupt.flac"):
        cache.features([corrupt], workers=1)


@pytest.mark.slow
def test_evaluate_cli_scores_held_out_synthetic_tracks(tmp_path, synthetic_music_dir) -> None:
    out = tmp_path / "eval"
    result = CliRunner().invoke(
        cli,
        [
            "evaluate",
            "music",
            "--data",
            str(synthetic_music_dir),
            "--folds",
            "3",
            "--row",
            "method",
            "--max-epochs",
            "60",
            "--batch-size",
            "16",
            "--patience",
            "10",
            "--out",
            str(out),
        ],  # fmt: skip
        env={"MOODSTREAM_HOME": str(tmp_path / "home")},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    rows = {row["name"]: row for row in report["rows"]}
    method = rows["62-dim + attention + 2-layer LSTM (the method, MSE loss)"]
    assert len(method["per_fold"]) == 3 and method["paper_accuracy"] == 71.5
    # Held-out folds are whole tracks never seen in training; chance is 25 %.
    assert method["accuracy_mean"] >= 0.90, report
    assert "reference: segment mean+std + RBF SVM" in rows
    confusion = np.array(report["confusion"])
    assert confusion.shape == (4, 4)
    np.testing.assert_allclose(confusion.sum(axis=1), 100.0, atol=0.2)
    assert (out / "confusion.png").stat().st_size > 1000
    assert (out / "per_fold_accuracy.png").stat().st_size > 1000
    assert "71.5" in result.output  # printed beside the paper's number


@pytest.fixture(scope="module")
def embedding_home(tmp_path_factory) -> dict:
    """A MOODSTREAM_HOME shared by the tests that embed the synthetic set: embedded once."""
    return {"MOODSTREAM_HOME": str(tmp_path_factory.mktemp("embedding-home"))}


@pytest.mark.slow
def test_evaluate_cli_adds_the_embedding_candidate_on_the_same_folds_and_names_a_champion(
    tmp_path, synthetic_music_dir, embedding_home
) -> None:
    from models.musicnn import MusicnnUnavailableError, checkpoint_prefix

    try:
        checkpoint_prefix("MSD_musicnn")
    except MusicnnUnavailableError as exc:
        pytest.skip(str(exc))
    out = tmp_path / "eval"
    result = CliRunner().invoke(
        cli,
        ["evaluate", "music", "--data", str(synthetic_music_dir), "--folds", "3",
         "--row", "embedding-lr", "--out", str(out)],
        env=embedding_home,
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    rows = {row["name"]: row for row in report["rows"]}
    candidate = rows["candidate: musicnn embedding + logistic regression"]
    reference = rows["reference: segment mean+std + RBF SVM"]
    assert (candidate["kind"], reference["kind"]) == ("candidate", "reference")
    assert len(candidate["per_fold"]) == len(reference["per_fold"]) == 3
    # What the inner cross-validation of each training fold chose (never the test fold).
    assert len(candidate["chosen_per_fold"]) == 3
    assert all(c.startswith("parts=") and " C=" in c for c in candidate["chosen_per_fold"])
    # Calibrated out-of-fold probabilities: the ECE, and the reliability diagram beside the report.
    assert 0.0 <= candidate["ece"] <= 1.0 and candidate["reliability"]
    assert sum(b["count"] for b in candidate["reliability"]) == report["clips"]
    assert (out / "reliability.png").stat().st_size > 1000
    # Unseen synthetic tracks; chance is 25 %.
    assert candidate["accuracy_mean"] >= 0.85, report
    best = max(report["rows"], key=lambda row: row["accuracy_mean"])
    assert report["champion"] == best["name"]
    assert f"{report['champion']:<70}" in result.output and "<- champion" in result.output


@pytest.mark.slow
def test_train_cli_can_cross_validate_first_and_stores_the_accuracy_with_the_model(
    tmp_path, synthetic_music_dir
) -> None:
    env = {"MOODSTREAM_HOME": str(tmp_path / "home")}
    base = ["train", "music", "--data", str(synthetic_music_dir), "--model", "method",
            "--max-epochs", "3", "--batch-size", "16", "--no-push", "--out", str(tmp_path / "out")]  # fmt: skip
    refused = CliRunner().invoke(cli, [*base, "--cv-folds", "1"], env=env)
    assert refused.exit_code == 2 and "at least 2 folds" in refused.output
    result = CliRunner().invoke(cli, [*base, "--cv-folds", "2"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "out" / "training.json").read_text())["metrics"]
    assert metrics["cv_folds"] == 2 and len(metrics["cv_per_fold"]) == 2
    assert metrics["cv_accuracy"] == pytest.approx(np.mean(metrics["cv_per_fold"]))
    assert metrics["clips"] == 48 and metrics["epochs"] <= 3


def test_train_cli_trains_the_champion_candidate_by_default_with_its_cv_and_temperature(
    tmp_path, synthetic_music_dir, embedding_home
) -> None:
    from models.embedding_head import LinearHead
    from models.music_embedding import EMBEDDING_VERSION

    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli,
        ["train", "music", "--data", str(synthetic_music_dir), "--no-push", "--out", str(out)],
        env=embedding_home, catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    training = json.loads((out / "training.json").read_text())
    assert training["model"] == "embedding-stats-lr" and training["with_segment_statistics"]
    assert training["embedding_version"] == EMBEDDING_VERSION and training["temperature"] > 0
    assert training["C"] in (0.01, 0.03, 0.1, 0.3, 1.0) and training["parts"]
    metrics = training["metrics"]
    # A candidate is cross-validated (5 grouped folds) by default before it is trained.
    assert metrics["cv_folds"] == 5 and metrics["cv_accuracy"] >= 0.85 and metrics["clips"] == 48
    head = LinearHead.load(out / "head.npz")
    assert head.n_inputs == 900 + 124 and head.temperature == training["temperature"]
