"""The served embedding head: the fitted candidate's own probabilities, from plain arrays."""

from __future__ import annotations

import numpy as np
import pytest

from models.calibration import apply_temperature
from models.embedding_head import LinearHead
from models.exceptions import FeatureParameterError, FeatureSpecMismatchError, ModelsError
from models.inference import EmbeddingMusicClassifier
from models.music_candidates import candidate_temperature, fit_candidate
from models.music_embedding import EMBEDDING_SIZE, EMBEDDING_VERSION
from schemas.emotions import EMOTIONS


def _separable_set(n: int, extra: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of an embedding (+ ``extra`` statistics columns) whose tag block carries the class."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % len(EMOTIONS)
    x = rng.normal(size=(n, EMBEDDING_SIZE + extra))
    x[np.arange(n), 400 + y] += 2.5  # MSD tag columns 400..403 lean to the class
    groups = np.arange(n) // 2  # pairs of clips share a group
    return x, y, groups


@pytest.fixture(scope="module")
def fitted():
    x, y, groups = _separable_set(96, extra=124, seed=0)
    search = fit_candidate(x, y, groups, seed=0)
    return search, x, y, groups


def test_the_head_answers_what_the_fitted_pipeline_answers(fitted, tmp_path) -> None:
    search, x, _, _ = fitted
    head = LinearHead.from_pipeline(search.best_estimator_, x.shape[1])
    np.testing.assert_allclose(head.probabilities(x), search.predict_proba(x), atol=1e-9)
    head.save(tmp_path / "head.npz")
    loaded = LinearHead.load(tmp_path / "head.npz")
    np.testing.assert_allclose(loaded.probabilities(x), search.predict_proba(x), atol=1e-9)


def test_the_head_applies_the_temperature_fitted_on_its_training_data(fitted) -> None:
    search, x, y, groups = fitted
    temperature = candidate_temperature(search, x, y, groups, seed=0)
    head = LinearHead.from_pipeline(search.best_estimator_, x.shape[1], temperature)
    assert temperature > 0 and temperature != 1.0
    np.testing.assert_allclose(
        head.probabilities(x), apply_temperature(search.predict_proba(x), temperature), atol=1e-6
    )
    with pytest.raises(FeatureParameterError, match=f"rows of {x.shape[1]} values"):
        head.probabilities(x[:, :-1])


def test_a_head_trained_without_one_emotion_is_refused() -> None:
    x, y, groups = _separable_set(96, extra=0, seed=1)
    keep = y != 3
    search = fit_candidate(x[keep], y[keep], groups[keep], seed=0)
    with pytest.raises(ModelsError, match="every one of 4 emotions"):
        LinearHead.from_pipeline(search.best_estimator_, x.shape[1])


def test_the_served_classifier_adds_segment_statistics_and_refuses_other_embeddings(
    fitted,
) -> None:
    search, x, _, _ = fitted
    head = LinearHead.from_pipeline(search.best_estimator_, x.shape[1])
    classifier = EmbeddingMusicClassifier(
        head, with_segment_statistics=True, embedding_version=EMBEDDING_VERSION
    )
    matrix = np.random.default_rng(2).normal(size=(30, 62))
    embedding = x[0, :EMBEDDING_SIZE]
    answer = classifier.predict(matrix, embedding)
    row = np.concatenate([embedding, matrix.mean(axis=0), matrix.std(axis=0)])
    assert list(answer) == list(EMOTIONS)
    np.testing.assert_allclose(list(answer.values()), head.probabilities(row)[0], atol=1e-9)
    with pytest.raises(FeatureParameterError, match="needs the track's embedding"):
        classifier.predict(matrix)
    with pytest.raises(FeatureSpecMismatchError, match="retrain"):
        EmbeddingMusicClassifier(
            head, with_segment_statistics=True, embedding_version="musicnn-0000000000"
        )
