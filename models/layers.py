"""Keras layers of moodstream's networks (registered for saving and loading)."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

__all__ = ["AttentionPooling", "Standardize"]


@keras.saving.register_keras_serializable(package="moodstream")
class AttentionPooling(keras.layers.Layer):
    """The paper's attention: ``alpha_i = softmax_i(f(x_i))``, output ``sum_i alpha_i x_i``.

    ``f(x) = v^T tanh(W x + b)``. Masked time steps (padding) get no weight.

    Input ``(batch, time, features)`` -> output ``(batch, features)``.
    """

    def __init__(self, units: int = 32, **kwargs) -> None:
        super().__init__(**kwargs)
        self.units = units
        self.supports_masking = True

    def build(self, input_shape) -> None:
        dim = int(input_shape[-1])
        self.w = self.add_weight(name="w", shape=(dim, self.units), initializer="glorot_uniform")
        self.b = self.add_weight(name="b", shape=(self.units,), initializer="zeros")
        self.v = self.add_weight(name="v", shape=(self.units, 1), initializer="glorot_uniform")

    def call(self, x, mask=None):
        scores = ops.squeeze(ops.matmul(ops.tanh(ops.matmul(x, self.w) + self.b), self.v), axis=-1)
        if mask is not None:
            scores = ops.where(mask, scores, ops.full_like(scores, -1e9))
        # softmax over time, written out: keras warns on ops.softmax over a length-1 axis,
        # and a track shorter than 6 s has a single segment.
        weights = ops.exp(scores - ops.max(scores, axis=1, keepdims=True))
        alpha = weights / ops.sum(weights, axis=1, keepdims=True)
        return ops.sum(ops.expand_dims(alpha, -1) * x, axis=1)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="moodstream")
class Standardize(keras.layers.Layer):
    """``(x - mean) / std`` with statistics fixed at build time, so a model takes raw features."""

    def __init__(self, mean, std, **kwargs) -> None:
        super().__init__(**kwargs)
        self.mean_values = np.asarray(mean, dtype=np.float32).tolist()
        self.std_values = np.maximum(np.asarray(std, dtype=np.float32), 1e-6).tolist()
        self.supports_masking = True

    def call(self, x):
        return (x - np.asarray(self.mean_values, np.float32)) / np.asarray(
            self.std_values, np.float32
        )

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "mean": self.mean_values, "std": self.std_values}
