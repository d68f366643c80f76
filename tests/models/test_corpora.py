"""Several corpora as one training set (models.datasets.corpora), leave-one-corpus-out folds
(models.splits.corpus_folds), and the demo's choice of corpora (streams.demo_models)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.datasets.corpora import (
    default_corpora,
    describe_corpora,
    hold_out_groups,
    is_synthetic,
    mark_synthetic,
    read_corpora,
    read_dataset_list,
)
from models.exceptions import DatasetError
from models.splits import corpus_folds, group_folds
from schemas.emotions import EMOTIONS


def _corpus(root: Path, name: str, group_col: str, groups: list[str], per_group: int = 4) -> Path:
    folder = root / name
    (folder / "audio").mkdir(parents=True)
    lines = [f"path,emotion,{group_col}"]
    for g in groups:
        for k in range(per_group):
            path = f"audio/{g}-{k}.wav"
            (folder / path).write_bytes(b"RIFF")
            lines.append(f"{path},{EMOTIONS[k % 4]},{g}")
    (folder / "labels.csv").write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture()
def speech(tmp_path) -> list[Path]:
    return [
        _corpus(tmp_path, "ravdess_song", "speaker", ["actor01", "actor02", "actor03"]),
        _corpus(tmp_path, "ravdess_speech_dev", "speaker", ["actor01", "actor02"]),
        _corpus(tmp_path, "emodb", "speaker", ["actor01", "spk08"]),  # another corpus's "actor01"
    ]


def test_actors_are_shared_across_ravdess_and_kept_apart_from_other_corpora(speech) -> None:
    clips = read_corpora(speech)
    groups = {c.group for c in clips}
    assert groups == {
        "ravdess:actor01", "ravdess:actor02", "ravdess:actor03", "emodb:actor01", "emodb:spk08",
    }  # fmt: skip
    assert {c.corpus for c in clips} == {"ravdess_song", "ravdess_speech_dev", "emodb"}
    # Grouped folds over the union: no actor on both sides, whichever corpus the clip is from.
    y = np.array([EMOTIONS.index(c.emotion) for c in clips])
    g = np.array([c.group for c in clips])
    for fold in group_folds(y, g, 2, seed=0):
        assert not set(g[fold.train]) & set(g[fold.test])


def test_each_corpus_is_left_out_once(speech) -> None:
    clips = read_corpora(speech)
    corpora = np.array([c.corpus for c in clips])
    folds = corpus_folds(corpora)
    assert [f.name for f in folds] == sorted({"ravdess_song", "ravdess_speech_dev", "emodb"})
    tested = np.concatenate([f.test for f in folds])
    assert sorted(tested.tolist()) == list(range(len(clips)))  # every clip tested once
    for fold in folds:
        assert set(corpora[fold.test]) == {fold.name}
        assert fold.name not in set(corpora[fold.train])
    with pytest.raises(ValueError, match="two corpora"):
        corpus_folds(np.array(["emodb"] * 3))


def test_corpora_with_one_name_are_refused_and_lists_are_read(tmp_path, speech) -> None:
    other = _corpus(tmp_path / "elsewhere", "emodb", "speaker", ["x"])
    with pytest.raises(DatasetError, match="share a folder name"):
        read_corpora([*speech, other])
    listing = tmp_path / "voice.txt"
    listing.write_text("# the speech corpora\nravdess_song\n\nemodb  # German\n")
    assert read_dataset_list(listing) == [tmp_path / "ravdess_song", tmp_path / "emodb"]


def test_the_real_corpora_present_are_the_defaults(tmp_path, speech) -> None:
    assert default_corpora(tmp_path, "voice") == [
        tmp_path / n for n in ("ravdess_song", "emodb", "ravdess_speech_dev")
    ]
    assert default_corpora(tmp_path, "music") == []


def test_a_model_of_synthetic_folders_only_says_so(tmp_path, speech) -> None:
    synthetic = _corpus(tmp_path, "speech", "speaker", ["v1"])
    mark_synthetic(synthetic)
    assert is_synthetic(synthetic) and not is_synthetic(speech[0])
    only = describe_corpora([synthetic], read_corpora([synthetic]))
    assert only["synthetic_only"] is True and only["corpora"]["speech"]["synthetic"] is True
    mixed = describe_corpora([synthetic, speech[0]], read_corpora([synthetic, speech[0]]))
    assert mixed["synthetic_only"] is False
    assert mixed["corpora"]["ravdess_song"] == {"clips": 12, "synthetic": False}


def test_held_out_actors_leave_every_corpus_they_speak_in(tmp_path, speech) -> None:
    training, held = hold_out_groups(speech, {"ravdess:actor02"}, tmp_path / "train")
    assert [f.name for f in training] == [f.name for f in speech]
    trained = read_corpora(training)
    assert "ravdess:actor02" not in {c.group for c in trained}
    assert {c.group for c in held} == {"ravdess:actor02"}
    assert {c.corpus for c in held} == {"ravdess_song", "ravdess_speech_dev"}
    assert len(trained) + len(held) == len(read_corpora(speech))


def test_the_demo_trains_on_real_corpora_when_present_and_holds_actors_out(
    tmp_path, speech
) -> None:
    from streams.demo_models import HELD_OUT_ACTORS, demo_data
    from streams.settings import Settings

    for actor in ("actor10", "actor11", "actor12"):
        for name in ("ravdess_song", "ravdess_speech_dev"):
            folder = tmp_path / name
            lines = (folder / "labels.csv").read_text().splitlines()
            for k in range(4):
                (folder / f"audio/{actor}-{k}.wav").write_bytes(b"RIFF" + actor.encode())
                lines.append(f"audio/{actor}-{k}.wav,{EMOTIONS[k]},{actor}")
            (folder / "labels.csv").write_text("\n".join(lines) + "\n")
    music = [
        _corpus(tmp_path, "emopia", "song_id", ["s1", "s2"]),
        _corpus(tmp_path, "q4_dev", "artist", ["a"]),
    ]
    data = demo_data(Settings(home=tmp_path / "home", shared_data=tmp_path))
    assert data.music == music and data.real_voices
    assert sorted(f.name for f in data.voice) == sorted(f.name for f in speech)
    heard = {c.group for c in read_corpora(data.voice)}
    assert not heard & set(HELD_OUT_ACTORS)
    assert data.clip(1, "happy", 0) == b"RIFFactor11"  # the listener speaks with its actor


@pytest.mark.slow
def test_the_demo_falls_back_to_synthetic_sets_and_flags_them(tmp_path) -> None:
    from streams.demo_models import demo_data
    from streams.settings import Settings

    data = demo_data(Settings(home=tmp_path / "home", shared_data=tmp_path / "nothing"))
    assert not data.real_voices
    assert all(is_synthetic(f) for f in [*data.music, *data.voice])
    assert describe_corpora(data.voice, read_corpora(data.voice))["synthetic_only"]


def test_the_champion_must_read_every_held_out_corpus_above_the_floor() -> None:
    """The rule docs/voice-model.md states: the best pooled accuracy among rows at >= 35 % on each
    held-out corpus; a row that wins in corpus but is near chance on one corpus is not served."""
    from models.evaluation import across_corpora, choose_champion

    pooled = {"rows": [
        {"name": "narrow", "accuracy_mean": 0.90, "per_corpus_accuracy": {"a": 0.95, "b": 0.85}, "ece": 0.02},
        {"name": "broad", "accuracy_mean": 0.70, "per_corpus_accuracy": {"a": 0.72, "b": 0.68}, "ece": 0.03},
    ]}  # fmt: skip
    loco = {"rows": [
        {"name": "narrow", "accuracy_mean": 0.55, "per_fold": [0.80, 0.30], "per_corpus_accuracy": {"a": 0.80, "b": 0.30}, "ece": 0.3},
        {"name": "broad", "accuracy_mean": 0.60, "per_fold": [0.62, 0.58], "per_corpus_accuracy": {"a": 0.62, "b": 0.58}, "ece": 0.1},
    ]}  # fmt: skip
    rule = choose_champion(pooled, loco)
    assert rule["champion"] == "broad" and "35%" in rule["rule"]
    table = across_corpora(pooled, loco)
    assert table["narrow"]["corpora"]["b"] == {"in_corpus": 0.85, "cross_corpus": 0.30}
    assert (table["broad"]["ece_pooled"], table["broad"]["ece_cross_corpus"]) == (0.03, 0.1)
    assert choose_champion(pooled, loco, floor=0.9)["champion"] is None


def test_the_demo_retrains_a_promoted_model_of_other_features_or_corpora() -> None:
    from models.features.voice import DEFAULT_VOICE_SPEC
    from models.registry import ModelRecord
    from streams.cli.model_jobs import DEFAULT_VOICE_MODEL_KEY
    from streams.demo_models import reusable

    def record(**changes) -> ModelRecord:
        fields = {
            "kind": "voice", "version": "v1", "created_at": "2026-12-06T00:00:00Z",
            "feature_spec": DEFAULT_VOICE_SPEC.version, "training_data": "",
            "hyperparameters": {"model": DEFAULT_VOICE_MODEL_KEY},
            "metrics": {"corpora": ["emodb", "ravdess_song"]},
        }  # fmt: skip
        return ModelRecord(**{**fields, **changes})

    folders = [Path("/data/ravdess_song"), Path("/data/emodb")]
    assert reusable(record(), "voice", folders)
    assert not reusable(None, "voice", folders)
    assert not reusable(record(feature_spec="voice-0123456789"), "voice", folders)  # older rule
    assert not reusable(record(), "voice", folders[:1])
    assert not reusable(record(hyperparameters={"model": "method"}), "voice", folders)
