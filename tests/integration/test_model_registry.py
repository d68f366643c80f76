"""The model registry on the real MinIO: train -> push -> promote -> serve; spec mismatches refused."""

from __future__ import annotations

import json
import uuid

import numpy as np
import pytest
from click.testing import CliRunner

from models.datasets.labelled import read_labelled_folder
from models.exceptions import FeatureSpecMismatchError, ModelNotFoundError
from models.feature_cache import MusicFeatureCache
from models.features.music import DEFAULT_SPEC
from models.inference import EmbeddingMusicClassifier, load_music_classifier
from models.music_embedding import EMBEDDING_VERSION, MusicEmbeddingCache
from models.registry import ModelRegistry
from models.storage import minio_client
from models.voice_candidates import add_to_history
from schemas.emotions import EMOTIONS
from streams.cli import cli
from tests.integration.conftest import CV_FOLDS

pytestmark = pytest.mark.integration


@pytest.fixture()
def registry_settings(isolated):
    """Settings whose model registry is a bucket of the test's own, removed afterwards."""
    settings = isolated.replace(bucket_models=f"models-test-{uuid.uuid4().hex[:10]}")
    yield settings
    client = minio_client(settings.object_store)
    if client.bucket_exists(settings.bucket_models):
        for obj in client.list_objects(settings.bucket_models, recursive=True):
            client.remove_object(settings.bucket_models, obj.object_name)
        client.remove_bucket(settings.bucket_models)


def test_fetch_says_what_to_do_when_nothing_is_promoted(registry_settings, tmp_path) -> None:
    registry = ModelRegistry(registry_settings.object_store, registry_settings.bucket_models)
    with pytest.raises(ModelNotFoundError, match="models promote music"):
        registry.fetch("music", dest=tmp_path)
    with pytest.raises(ModelNotFoundError, match="no music model 'music-nope'"):
        registry.show("music", "music-nope")


def test_registry_refuses_a_model_trained_on_other_features(registry_settings, tmp_path) -> None:
    registry = ModelRegistry(registry_settings.object_store, registry_settings.bucket_models)
    weights = tmp_path / "model.keras"
    weights.write_bytes(b"not needed: the check comes first")
    record = registry.push(
        "music", {"model.keras": weights}, feature_spec="music62-0000old",
        training_data="x", hyperparameters={}, metrics={},
    )  # fmt: skip
    registry.promote("music", record.version)
    with pytest.raises(FeatureSpecMismatchError, match="music62-0000old") as info:
        load_music_classifier(registry, tmp_path / "cache")
    assert DEFAULT_SPEC.version in str(info.value) and "retrain" in str(info.value)
    assert not (tmp_path / "cache" / record.version / "model.keras").exists()


# The three round trips below read the models that the session fixture ``pipeline_settings``
# trained once through ``moodstream train KIND --data ... --out ... --promote`` (see
# tests/integration/conftest.py): training, pushing and promoting is that fixture's CLI run;
# these tests check what it stored, listed, promoted and serves.


def _registry(settings) -> ModelRegistry:
    return ModelRegistry(settings.object_store, settings.bucket_models)


def test_trained_model_round_trips_and_serves_held_out_tracks(
    pipeline_settings, tmp_path, held_out_music_dir
) -> None:
    settings = pipeline_settings
    registry = _registry(settings)
    (record,) = registry.list("music")
    assert registry.promoted_version("music") == record.version
    assert (
        f"stored as {record.version} (promoted)"
        in (settings.home / "trained" / "music.txt").read_text()
    )
    assert record.feature_spec == DEFAULT_SPEC.version
    params = record.hyperparameters
    assert params["model"] == "embedding-stats-lr" and params["with_segment_statistics"]
    assert params["embedding_version"] == EMBEDDING_VERSION and params["temperature"] > 0
    assert len(record.training_data) == 64 and record.metrics["clips"] == 48
    assert record.metrics["cv_folds"] == CV_FOLDS and record.metrics["cv_accuracy"] >= 0.85
    assert record.created_at and set(record.files) == {"head.npz", "training.json"}
    env = settings.to_env()
    listing = CliRunner().invoke(cli, ["models", "list", "music"], env=env)
    assert f"* {record.version}" in listing.output
    shown = CliRunner().invoke(cli, ["models", "show", "music", record.version], env=env)
    assert json.loads(shown.output)["version"] == record.version

    classifier, served = load_music_classifier(registry, tmp_path / "models")
    assert served.version == record.version == classifier.version
    assert isinstance(classifier, EmbeddingMusicClassifier)
    clips = read_labelled_folder(held_out_music_dir)
    matrices, hashes = MusicFeatureCache(tmp_path / "features").features([c.path for c in clips])
    embeddings = MusicEmbeddingCache(tmp_path / "embeddings").embeddings(
        [c.path for c in clips], hashes=hashes
    )
    answers = [classifier.predict(m, e) for m, e in zip(matrices, embeddings, strict=True)]
    predicted = [max(a, key=a.get) for a in answers]
    assert np.mean([p == c.emotion for p, c in zip(predicted, clips, strict=True)]) >= 0.90
    for answer in answers:
        assert abs(sum(answer.values()) - 1.0) < 1e-6


def test_theme_model_round_trips_through_the_registry(
    pipeline_settings, tmp_path, synthetic_music_dir
) -> None:
    from models.themes import ThemeModel

    settings = pipeline_settings
    registry = _registry(settings)
    (record,) = registry.list("themes")
    assert registry.promoted_version("themes") == record.version
    assert record.metrics["sad"]["tracks"] == 12 and record.hyperparameters["topics"] == 5
    served, served_record = ThemeModel.from_registry(registry, tmp_path / "cache")
    local = ThemeModel.load(settings.home / "trained" / "themes")
    clips = read_labelled_folder(synthetic_music_dir)
    matrices, _ = MusicFeatureCache(settings.home / "cache" / "features").features(
        [c.path for c in clips]
    )
    for clip, matrix in zip(clips, matrices, strict=True):
        a, b = served.assign(clip.emotion, matrix), local.assign(clip.emotion, matrix)
        assert a.theme_id == b.theme_id
        np.testing.assert_allclose(
            list(a.distribution.values()), list(b.distribution.values()), atol=1e-6
        )
    assert served_record.version == record.version


def test_voice_model_round_trips_and_answers_a_clip(
    pipeline_settings, tmp_path, synthetic_speech_dir
) -> None:
    from models.features.voice import DEFAULT_VOICE_SPEC
    from models.voice import FunctionalsVoiceClassifier, load_voice_classifier

    registry = _registry(pipeline_settings)
    (record,) = registry.list("voice")
    assert registry.promoted_version("voice") == record.version
    assert record.feature_spec == DEFAULT_VOICE_SPEC.version and record.metrics["clips"] == 96
    assert set(record.files) == {"head.npz", "training.json"}
    params = record.hyperparameters
    assert params["model"] == "quality-listener-mlp" and params["listener_normalised"]
    assert "cv_accuracy" not in record.metrics  # trained with --cv-folds 0
    classifier, served = load_voice_classifier(registry, tmp_path / "models")
    assert isinstance(classifier, FunctionalsVoiceClassifier)
    assert served.version == record.version == classifier.version
    # A listener's clips in turn, each answered with the history of the ones before it.
    clips = sorted(synthetic_speech_dir.glob("*.wav"))[:12]  # one voice: angry, calm, happy
    history, right = None, 0
    for clip in clips:
        answer = classifier.classify(clip.read_bytes(), history=history)
        assert answer.has_speech and set(answer.probabilities) == set(EMOTIONS)
        assert abs(sum(answer.probabilities.values()) - 1) < 1e-9
        history = add_to_history(history, answer.functionals)
        right += answer.emotion in clip.stem
    assert history["n"] == 12 and right >= 9  # trained on these clips


def test_promote_refuses_a_model_that_scored_worse_on_the_same_data(
    registry_settings, tmp_path
) -> None:
    from models.exceptions import WorseModelError

    registry = ModelRegistry(registry_settings.object_store, registry_settings.bucket_models)

    def push(cv_accuracy: float | None, data: str = "fingerprint-a") -> str:
        weights = tmp_path / "model.keras"
        weights.write_bytes(f"weights {cv_accuracy} {data}".encode())  # a version of its own
        metrics = {} if cv_accuracy is None else {"cv_accuracy": cv_accuracy, "cv_folds": 5}
        return registry.push(
            "music", {"model.keras": weights}, feature_spec=DEFAULT_SPEC.version,
            training_data=data, hyperparameters={}, metrics=metrics,
        ).version  # fmt: skip

    good, worse = push(0.70), push(0.60)
    assert good != worse
    registry.promote("music", good)
    with pytest.raises(WorseModelError, match=r"60\.0 %.*below the promoted.*70\.0 %.*--force"):
        registry.promote("music", worse)
    assert registry.promoted_version("music") == good
    env = registry_settings.to_env()
    refused = CliRunner().invoke(cli, ["models", "promote", "music", worse], env=env)
    assert refused.exit_code == 1 and "--force" in refused.output
    assert registry.promoted_version("music") == good
    # Not comparable: trained on other data, or no stored cross-validation.
    other_data, unscored = push(0.50, data="fingerprint-b"), push(None)
    registry.promote("music", other_data)
    registry.promote("music", unscored)
    registry.promote("music", good)
    forced = CliRunner().invoke(cli, ["models", "promote", "music", worse, "--force"], env=env)
    assert forced.exit_code == 0, forced.output
    assert registry.promoted_version("music") == worse
