"""The dual-channel voice emotion network (PAPER.md section 6) and the rows of Table 3.

Inputs per clip, window-aligned (:mod:`models.features.voice`): ``hsf`` ``(windows, 172)``
and ``spectrogram`` ``(windows, 161, 50)``; clips are zero-padded to the longest of a batch
and padded windows are masked (a window is padding when its HSF vector is all zeros).

- **Channel A** (HSF): standardise -> LSTM over windows -> attention pooling -> dense (32).
- **Channel B** (CRNN), per 515 ms segment: conv 30 x (40 freq x 5 time), ReLU -> max-pool 1x3
  stride 2 along time -> conv 30 x (1 x 3), ReLU -> max-pool 1x3 stride 2 -> an LSTM over the
  segment's time steps (features = frequency x filters) -> max, min and mean over time
  (3 x 128 = 384) per segment -> attention over the segments -> dense (128).
- Concatenation -> dense (64) -> softmax over sad/happy/angry/calm. Hidden dense layers use
  sigmoid, as the paper; the loss is cross-entropy.

The first convolution strides 2 along frequency (``freq_stride``): with stride 1 the conv alone
dominates the cost of a segment and puts a 5 s clip over the 20 ms serving budget on one core;
stride 2 halves it and changes accuracy within noise on the dev sets (figures: docs/voice-model.md). Without attention, segments are averaged (channel B) and the HSF LSTM's last output
is used (channel A).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import keras
import numpy as np
from keras import ops

from models.layers import AttentionPooling, Standardize
from schemas.emotions import EMOTIONS

__all__ = [
    "VoiceModelConfig",
    "TABLE3_ROWS",
    "VOICE_ROWS_BY_KEY",
    "VOICE_METHOD",
    "build_voice_model",
]

N_HSF = 172
N_BINS = 161
SEGMENT_FRAMES = 50


@dataclass(frozen=True)
class VoiceModelConfig:
    """Hyper-parameters of one voice emotion model (one row of Table 3)."""

    name: str
    hsf_channel: bool = True
    attention: bool = True
    conv_filters: int = 30
    freq_stride: int = 2
    crnn_lstm_units: int = 128
    hsf_lstm_units: int = 64
    attention_units: int = 32
    dropout: float = 0.3
    learning_rate: float = 1e-3
    batch_size: int = 32
    max_epochs: int = 60
    patience: int = 10

    def to_dict(self) -> dict:
        return asdict(self)

    def with_(self, **changes) -> VoiceModelConfig:
        return replace(self, **changes)


VOICE_METHOD = VoiceModelConfig(name="HSF + CRNN with attention (the method)")
TABLE3_ROWS: tuple[VoiceModelConfig, ...] = (
    VoiceModelConfig(name="CRNN", hsf_channel=False, attention=False),
    VoiceModelConfig(name="HSF + CRNN", attention=False),
    VOICE_METHOD,
)
VOICE_ROWS_BY_KEY = dict(zip(("crnn", "hsf-crnn", "method"), TABLE3_ROWS, strict=True))


@keras.saving.register_keras_serializable(package="moodstream")
class SegmentStatsPooling(keras.layers.Layer):
    """``(batch, time, units)`` -> ``(batch, 3 * units)``: max, min and mean over time."""

    def call(self, x):
        return ops.concatenate(
            [ops.max(x, axis=1), ops.min(x, axis=1), ops.mean(x, axis=1)], axis=-1
        )

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 3 * input_shape[-1])


@keras.saving.register_keras_serializable(package="moodstream")
class WindowMask(keras.layers.Layer):
    """Boolean mask of real (non-padding) windows from the HSF input."""

    def call(self, hsf):
        return ops.any(ops.not_equal(hsf, 0.0), axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape[:2]


@keras.saving.register_keras_serializable(package="moodstream")
class MaskedMean(keras.layers.Layer):
    """Mean over windows, padding excluded."""

    def call(self, x, mask):
        weights = ops.expand_dims(ops.cast(mask, x.dtype), -1)
        return ops.sum(x * weights, axis=1) / ops.maximum(ops.sum(weights, axis=1), 1.0)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])


@keras.saving.register_keras_serializable(package="moodstream")
class PerSegment(keras.layers.Layer):
    """Applies ``encoder`` to every segment of ``(batch, segments, ...)`` by folding the
    segments into the batch: one call of the encoder.

    Keras's ``TimeDistributed`` with an unknown number of segments maps the encoder with
    ``vectorized_map``, which converts its LSTM loop op by op: about 12 s to trace each training
    or serving function on this machine class, for the same numbers.
    """

    def __init__(self, encoder: keras.Model, **kwargs) -> None:
        super().__init__(**kwargs)
        self.encoder = encoder

    def build(self, input_shape) -> None:
        self.encoder.build((None, *input_shape[2:]))

    def call(self, x):
        shape = ops.shape(x)
        encoded = self.encoder(ops.reshape(x, (-1, *x.shape[2:])))
        return ops.reshape(encoded, (shape[0], shape[1], *encoded.shape[1:]))

    def compute_output_shape(self, input_shape):
        inner = self.encoder.compute_output_shape((None, *input_shape[2:]))
        return (*input_shape[:2], *inner[1:])

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "encoder": keras.saving.serialize_keras_object(self.encoder),
        }

    @classmethod
    def from_config(cls, config: dict) -> PerSegment:
        encoder = keras.saving.deserialize_keras_object(config.pop("encoder"))
        return cls(encoder, **config)


def _segment_encoder(config: VoiceModelConfig, spec_mean: float, spec_std: float) -> keras.Model:
    """One spectrogram segment ``(161, 50)`` -> its 384-dim vector."""
    inputs = keras.Input(shape=(N_BINS, SEGMENT_FRAMES))
    x = keras.layers.Rescaling(1.0 / spec_std, offset=-spec_mean / spec_std)(inputs)
    x = keras.layers.Reshape((N_BINS, SEGMENT_FRAMES, 1))(x)
    x = keras.layers.Conv2D(
        config.conv_filters, (40, 5), strides=(config.freq_stride, 1), activation="relu"
    )(x)
    x = keras.layers.MaxPooling2D(pool_size=(1, 3), strides=(1, 2))(x)
    x = keras.layers.Conv2D(config.conv_filters, (1, 3), activation="relu")(x)
    x = keras.layers.MaxPooling2D(pool_size=(1, 3), strides=(1, 2))(x)
    # (freq, time, filters) -> a sequence over time of freq x filters features.
    x = keras.layers.Permute((2, 1, 3))(x)
    x = keras.layers.Reshape((x.shape[1], x.shape[2] * x.shape[3]))(x)
    x = keras.layers.LSTM(config.crnn_lstm_units, return_sequences=True)(x)
    return keras.Model(inputs, SegmentStatsPooling()(x), name="segment_crnn")


def build_voice_model(
    config: VoiceModelConfig,
    *,
    hsf_mean: np.ndarray,
    hsf_std: np.ndarray,
    spec_mean: float,
    spec_std: float,
) -> keras.Model:
    """A compiled model for ``config``; standardisation statistics come from the training set."""
    hsf_in = keras.Input(shape=(None, N_HSF), name="hsf")
    spec_in = keras.Input(shape=(None, N_BINS, SEGMENT_FRAMES), name="spectrogram")
    mask = WindowMask(name="window_mask")(hsf_in)

    segments = PerSegment(_segment_encoder(config, spec_mean, spec_std), name="crnn")(spec_in)
    if config.attention:
        b = AttentionPooling(config.attention_units, name="crnn_attention")(segments, mask=mask)
    else:
        b = MaskedMean(name="crnn_mean")(segments, mask)
    b = keras.layers.Dense(128, activation="sigmoid", name="crnn_hidden")(b)
    branches = [b]
    if config.hsf_channel:
        a = keras.layers.Masking(mask_value=0.0)(hsf_in)
        a = Standardize(hsf_mean, hsf_std)(a)
        a = keras.layers.LSTM(
            config.hsf_lstm_units, return_sequences=config.attention, name="hsf_lstm"
        )(a)
        if config.attention:
            a = AttentionPooling(config.attention_units, name="hsf_attention")(a)
        a = keras.layers.Dense(32, activation="sigmoid", name="hsf_hidden")(a)
        branches.insert(0, a)
    x = keras.layers.Concatenate()(branches) if len(branches) > 1 else branches[0]
    x = keras.layers.Dropout(config.dropout)(x)
    x = keras.layers.Dense(64, activation="sigmoid", name="hidden")(x)
    outputs = keras.layers.Dense(len(EMOTIONS), activation="softmax", name="emotion")(x)
    model = keras.Model([hsf_in, spec_in], outputs, name="voice_emotion")
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model
