"""Serving: a loaded music emotion model that predicts one track (or a batch) from its segments.

Load once per process (:meth:`MusicEmotionClassifier.from_registry`), then call
:meth:`~MusicEmotionClassifier.predict` per track. Inference runs through one ``tf.function``
with a fixed input signature, so no call retraces, whatever the track's length.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from models.exceptions import FeatureParameterError
from models.features.music import DEFAULT_SPEC
from models.registry import ModelRecord, ModelRegistry
from models.training import pad_sequences
from schemas.emotions import EMOTIONS

__all__ = ["MusicEmotionClassifier"]

logger = logging.getLogger(__name__)


class MusicEmotionClassifier:
    """A trained music emotion model, ready to serve."""

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

    @classmethod
    def from_registry(
        cls, registry: ModelRegistry, cache_dir: Path, version: str | None = None
    ) -> tuple[MusicEmotionClassifier, ModelRecord]:
        """The promoted (or given) music model; refuses one trained on other features."""
        record, folder = registry.fetch(
            "music", version, dest=cache_dir, expected_feature_spec=DEFAULT_SPEC.version
        )
        return cls.load(
            folder / "model.keras", version=record.version, feature_spec=record.feature_spec
        ), record

    def predict_batch(self, matrices: list[np.ndarray]) -> np.ndarray:
        """Class probabilities ``(n_tracks, 4)`` in :data:`EMOTIONS` order."""
        for m in matrices:
            if m.ndim != 2 or m.shape[1] < self.n_features:
                raise FeatureParameterError(
                    f"a segment matrix must be (n_segments, {self.n_features}), got {m.shape}"
                )
        x = pad_sequences([m[:, : self.n_features] for m in matrices], self.n_features)
        return np.asarray(self._predict(x))

    def predict(self, matrix: np.ndarray) -> dict[str, float]:
        """Class probabilities of one track, by emotion name."""
        probs = self.predict_batch([matrix])[0]
        return {e: float(p) for e, p in zip(EMOTIONS, probs, strict=True)}
