"""Serving: a loaded music emotion model that predicts one track (or a batch).

Two kinds of stored music model exist, told apart by their registry record:

- the paper's network (``model.keras``): :class:`MusicEmotionClassifier` reads the segment
  matrix; inference runs through one ``tf.function`` with a fixed input signature, so no call
  retraces, whatever the track's length;
- an embedding candidate (``head.npz``): :class:`EmbeddingMusicClassifier` reads the musicnn
  embedding of the audio (and the segment statistics for the fused candidate) and answers with
  temperature-calibrated probabilities.

Load once per process with :func:`load_music_classifier`; both answer :meth:`predict` with the
segment matrix and, when :attr:`needs_embedding`, the track's embedding.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np

from models.exceptions import FeatureParameterError, FeatureSpecMismatchError
from models.features.music import DEFAULT_SPEC
from models.registry import ModelRecord, ModelRegistry
from models.training import pad_sequences
from schemas.emotions import EMOTIONS

__all__ = ["MusicEmotionClassifier", "EmbeddingMusicClassifier", "load_music_classifier"]

logger = logging.getLogger(__name__)


class MusicEmotionClassifier:
    """A trained music emotion network (the paper's), ready to serve."""

    needs_embedding = False

    def __init__(
        self, model, *, version: str = "local", feature_spec: str = DEFAULT_SPEC.version
    ) -> None:
        import tensorflow as tf

        self.model = model
        self.version = version
        self.feature_spec = feature_spec
        self.n_features = int(model.input_shape[-1])
        self._predict = tf.function(
            lambda x: model(x, training=False),
            input_signature=[tf.TensorSpec([None, None, self.n_features], tf.float32)],
            reduce_retracing=True,
        )

    @classmethod
    def load(
        cls, path: Path, *, version: str = "local", feature_spec: str = DEFAULT_SPEC.version
    ) -> MusicEmotionClassifier:
        """Load a saved ``.keras`` file."""
        import keras

        import models.layers  # noqa: F401  (registers the custom layers)

        return cls(
            keras.models.load_model(path, compile=False), version=version, feature_spec=feature_spec
        )

    def predict_batch(self, matrices: list[np.ndarray]) -> np.ndarray:
        """Class probabilities ``(n_tracks, 4)`` in :data:`EMOTIONS` order."""
        for m in matrices:
            if m.ndim != 2 or m.shape[1] < self.n_features:
                raise FeatureParameterError(
                    f"a segment matrix must be (n_segments, {self.n_features}), got {m.shape}"
                )
        x = pad_sequences([m[:, : self.n_features] for m in matrices], self.n_features)
        return np.asarray(self._predict(x))

    def predict(self, matrix: np.ndarray, embedding: np.ndarray | None = None) -> dict[str, float]:
        """Class probabilities of one track, by emotion name (``embedding`` is not used)."""
        probs = self.predict_batch([matrix])[0]
        return {e: float(p) for e, p in zip(EMOTIONS, probs, strict=True)}


class EmbeddingMusicClassifier:
    """A linear head on the musicnn embedding (+ segment statistics), ready to serve."""

    needs_embedding = True

    def __init__(
        self, head, *, with_segment_statistics: bool, version: str = "local",
        feature_spec: str = DEFAULT_SPEC.version, embedding_version: str,
    ) -> None:  # fmt: skip
        from models.music_embedding import EMBEDDING_VERSION

        if embedding_version != EMBEDDING_VERSION:
            raise FeatureSpecMismatchError(
                f"model {version} was trained on embedding {embedding_version}; this code "
                f"computes {EMBEDDING_VERSION}: retrain it (`moodstream train music`)"
            )
        self.head = head
        self.with_segment_statistics = with_segment_statistics
        self.version = version
        self.feature_spec = feature_spec
        self.embedding_version = embedding_version
        self._embedder = None
        self._embedder_lock = threading.Lock()  # tracks are labelled side by side in threads

    @classmethod
    def load(cls, folder: Path, record: ModelRecord) -> EmbeddingMusicClassifier:
        from models.embedding_head import LinearHead

        params = record.hyperparameters
        return cls(
            LinearHead.load(folder / "head.npz"),
            with_segment_statistics=bool(params["with_segment_statistics"]),
            version=record.version, feature_spec=record.feature_spec,
            embedding_version=params["embedding_version"],
        )  # fmt: skip

    def embed(self, y16k: np.ndarray) -> np.ndarray:
        """The musicnn embedding of 16 kHz mono audio (the networks load on first use)."""
        from models.music_embedding import MusicEmbedder

        with self._embedder_lock:
            if self._embedder is None:
                self._embedder = MusicEmbedder()
        return self._embedder.embed(y16k)

    def inputs(self, matrix: np.ndarray, embedding: np.ndarray) -> np.ndarray:
        """The head's input row of one track."""
        parts = [np.asarray(embedding, dtype=np.float64)]
        if self.with_segment_statistics:
            if matrix.ndim != 2 or matrix.shape[0] == 0:
                raise FeatureParameterError(
                    f"a segment matrix must be (n_segments, n_features), got {matrix.shape}"
                )
            parts += [matrix.mean(axis=0), matrix.std(axis=0)]
        return np.concatenate(parts)

    def predict(self, matrix: np.ndarray, embedding: np.ndarray | None = None) -> dict[str, float]:
        """Calibrated class probabilities of one track, by emotion name."""
        if embedding is None:
            raise FeatureParameterError(f"music model {self.version} needs the track's embedding")
        probs = self.head.probabilities(self.inputs(matrix, embedding))[0]
        return {e: float(p) for e, p in zip(EMOTIONS, probs, strict=True)}


def load_music_classifier(
    registry: ModelRegistry, cache_dir: Path, version: str | None = None
) -> tuple[MusicEmotionClassifier | EmbeddingMusicClassifier, ModelRecord]:
    """The promoted (or given) music model, whichever kind its record names; refuses one
    trained on other features."""
    record, folder = registry.fetch(
        "music", version, dest=cache_dir, expected_feature_spec=DEFAULT_SPEC.version
    )
    if "head.npz" in record.files:
        return EmbeddingMusicClassifier.load(folder, record), record
    return MusicEmotionClassifier.load(
        folder / "model.keras", version=record.version, feature_spec=record.feature_spec
    ), record
