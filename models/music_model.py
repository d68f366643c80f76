"""The music emotion network (PAPER.md section 4) and the configurations of Table 1.

Input: a track's sequence of segment vectors, ``(batch, n_segments, n_features)``, zero-padded
to the longest track of the batch; padding is masked, so tracks of any length are read whole.
Stacked unidirectional LSTMs (tanh), then the paper's attention pooling (or, without attention,
the last valid LSTM output), dropout, softmax over the four emotions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Literal

import keras
import numpy as np

from models.layers import AttentionPooling, Standardize
from schemas.emotions import EMOTIONS

__all__ = [
    "MusicModelConfig",
    "TABLE1_ROWS",
    "ROWS_BY_KEY",
    "METHOD_MSE",
    "METHOD_CE",
    "build_music_model",
]


FeatureSet = Literal["music62", "mfcc"]
Loss = Literal["mse", "categorical_crossentropy"]


@dataclass(frozen=True)
class MusicModelConfig:
    """Hyper-parameters of one music emotion model (one row of Table 1)."""

    name: str
    features: FeatureSet = "music62"
    lstm_layers: int = 2
    lstm_units: int = 64
    attention: bool = True
    attention_units: int = 32
    dropout: float = 0.5
    loss: Loss = "mse"
    learning_rate: float = 1e-3
    batch_size: int = 150
    max_epochs: int = 300
    patience: int = 25
    """Early stopping on a group-held-out validation split replaces the paper's 10 000 epochs."""

    @property
    def n_features(self) -> int:
        return 62 if self.features == "music62" else 28

    def to_dict(self) -> dict:
        return asdict(self)

    def with_(self, **changes) -> MusicModelConfig:
        return replace(self, **changes)


METHOD_MSE = MusicModelConfig(name="62-dim + attention + 2-layer LSTM (the method, MSE loss)")
METHOD_CE = METHOD_MSE.with_(
    name="62-dim + attention + 2-layer LSTM (cross-entropy loss)", loss="categorical_crossentropy"
)
TABLE1_ROWS: tuple[MusicModelConfig, ...] = (
    MusicModelConfig(name="baseline: MFCC + LSTM", features="mfcc", lstm_layers=1, attention=False),
    MusicModelConfig(name="62-dim + LSTM", lstm_layers=1, attention=False),
    MusicModelConfig(name="62-dim + attention + LSTM", lstm_layers=1, attention=True),
    METHOD_MSE,
    METHOD_CE,
)
#: Short names of the rows, for ``moodstream evaluate music --row``.
ROWS_BY_KEY: dict[str, MusicModelConfig] = dict(
    zip(("baseline", "lstm", "att-lstm", "method", "method-ce"), TABLE1_ROWS, strict=True)
)


def build_music_model(
    config: MusicModelConfig, *, mean: np.ndarray, std: np.ndarray
) -> keras.Model:
    """A compiled model for ``config``; ``mean``/``std`` standardise the raw features inside it."""
    inputs = keras.Input(shape=(None, config.n_features), name="segments")
    x = keras.layers.Masking(mask_value=0.0)(inputs)
    x = Standardize(mean, std)(x)
    for i in range(config.lstm_layers):
        last = i == config.lstm_layers - 1
        x = keras.layers.LSTM(
            config.lstm_units,
            activation="tanh",
            return_sequences=config.attention or not last,
            name=f"lstm_{i + 1}",
        )(x)
    if config.attention:
        x = AttentionPooling(config.attention_units, name="attention")(x)
    x = keras.layers.Dropout(config.dropout)(x)
    outputs = keras.layers.Dense(len(EMOTIONS), activation="softmax", name="emotion")(x)
    model = keras.Model(inputs, outputs, name="music_emotion")
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss=config.loss,
        metrics=["accuracy"],
    )
    return model
