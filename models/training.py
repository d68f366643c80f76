"""Training of the music emotion network: padding, a group-held-out early-stopping split, fit."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from models.music_model import MusicModelConfig, build_music_model
from models.splits import validation_mask
from schemas.emotions import EMOTIONS

__all__ = ["pad_sequences", "select_features", "fit_music_model", "set_seeds"]

logger = logging.getLogger(__name__)


def set_seeds(seed: int) -> None:
    """Seed Python, numpy and TensorFlow."""
    import keras

    keras.utils.set_random_seed(seed)


def select_features(matrices: Sequence[np.ndarray], config: MusicModelConfig) -> list[np.ndarray]:
    """The columns ``config`` reads: all 62, or the 28 MFCC columns for the baseline."""
    return [m[:, : config.n_features] for m in matrices]


def pad_sequences(matrices: Sequence[np.ndarray], n_features: int) -> np.ndarray:
    """Zero-pad ``(n_i, f)`` matrices to ``(N, max n_i, f)``; the model masks the padding."""
    longest = max(m.shape[0] for m in matrices)
    out = np.zeros((len(matrices), longest, n_features), dtype=np.float32)
    for i, m in enumerate(matrices):
        out[i, : m.shape[0]] = m
    return out


def fit_music_model(
    config: MusicModelConfig,
    matrices: Sequence[np.ndarray],
    labels: Sequence[str],
    groups: Sequence[str],
    *,
    seed: int = 0,
    verbose: int = 0,
):
    """Train a model of ``config`` on segment matrices; return ``(model, history dict)``.

    Standardisation statistics come from the training segments only; early stopping watches a
    validation split of whole groups (15 %), restoring the best weights.
    """
    import keras

    set_seeds(seed)
    x_list = select_features(matrices, config)
    y = np.array([EMOTIONS.index(e) for e in labels])
    groups = np.asarray(groups)
    val = validation_mask(groups, seed)
    train_idx = np.flatnonzero(~val) if val is not None else np.arange(len(x_list))
    stacked = np.concatenate([x_list[i] for i in train_idx])
    model = build_music_model(config, mean=stacked.mean(axis=0), std=stacked.std(axis=0))
    x = pad_sequences(x_list, config.n_features)
    onehot = keras.utils.to_categorical(y, len(EMOTIONS))
    fit_args = {}
    monitor = "loss"
    if val is not None:
        val_idx = np.flatnonzero(val)
        fit_args["validation_data"] = (x[val_idx], onehot[val_idx])
        monitor = "val_loss"
    history = model.fit(
        x[train_idx],
        onehot[train_idx],
        batch_size=config.batch_size,
        epochs=config.max_epochs,
        shuffle=True,
        verbose=verbose,
        callbacks=[
            keras.callbacks.EarlyStopping(
                monitor=monitor, patience=config.patience, restore_best_weights=True
            )
        ],
        **fit_args,
    )
    return model, history.history
