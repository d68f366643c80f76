"""Pretrained music embeddings: musicnn's MSD and MTT taggers, ported to TensorFlow 2 eager ops.

The musicnn 0.1.0 wheel (ISC licence, Pons and Serra 2019) ships TF1 checkpoints of CNNs trained
to tag music: ``MSD_musicnn`` on the Million Song Dataset (50 tags, among them happy, sad,
chill, Mellow, party) and ``MTT_musicnn`` on MagnaTagATune, and the same two tasks learnt by a
plain VGG-style CNN (``MSD_vgg``, ``MTT_vgg``). Its Python code is TF1-only, so
moodstream reads only its checkpoint files (``make install`` installs the wheel with
``--no-deps``) and runs the forward pass here. ``musicnn.extractor`` is never imported: it
disables eager execution for the whole process at import.

Input (as musicnn was trained): 16 kHz mono, mel power spectrogram (FFT 512, hop 256, 96 mel
bands, librosa's Slaney filters), ``log10(10000 * mel + 1)``, in patches of 187 frames (3 s).
Two deliberate departures from musicnn's own extractor: the log-mel is float32 (its float16
overflows to ``inf`` on loud audio), and each patch gets its own penultimate layer (its
extractor returns the first patch's for every patch).

The network (``musicnn`` architecture, inference mode): batch norm of the input; a front end of
timbral filters (7 x 38 and 7 x 67, 204 each, max over frequency) and temporal filters (128, 64,
32 x 1, 51 each, max over frequency); a mid end of three 7-frame convolutions (64 filters) with
residual connections; a back end that max- and mean-pools over time, then a 200-unit dense
layer (the *penultimate* embedding) and the tag logits.

The VGG networks (``vgg`` in musicnn's ``models.py``, 128 filters): batch norm of the input, then
five 3 x 3 convolutions (ReLU, batch norm) each followed by max pooling (4 x 1 stride 2, then
2 x 2 three times, then 4 x 4), which leaves a 2 x 1 x 128 map; flattened (256 values, here the
*penultimate*) it feeds the tag logits. They take exactly one 3 s patch of 187 frames.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.exceptions import ModelsError

__all__ = [
    "MUSICNN_MODELS",
    "VGG_MODELS",
    "MUSICNN_SR",
    "PATCH_FRAMES",
    "MSD_TAGS",
    "MTT_TAGS",
    "MusicnnUnavailableError",
    "MusicnnOutputs",
    "Musicnn",
    "musicnn_log_mel",
    "musicnn_patches",
    "checkpoint_prefix",
]

MUSICNN_MODELS = ("MSD_musicnn", "MTT_musicnn")
#: The wheel's VGG-style taggers of the same two tag sets (input: one 187-frame patch).
VGG_MODELS = ("MSD_vgg", "MTT_vgg")
_PRETRAINED = MUSICNN_MODELS + VGG_MODELS
MUSICNN_SR = 16000
FFT_SIZE = 512
FFT_HOP = 256
N_MELS = 96
#: 3 s of frames, as musicnn computes ``librosa.time_to_frames(3, ...) + 1`` for its patches.
PATCH_FRAMES = 187
#: Batch norm epsilon of ``tf.compat.v1.layers.batch_normalization``, which trained these weights.
_BN_EPSILON = 1e-3

MSD_TAGS = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s",
    "alternative rock", "jazz", "beautiful", "metal", "chillout", "male vocalists",
    "classic rock", "soul", "indie rock", "Mellow", "electronica", "80s", "folk", "90s", "chill",
    "instrumental", "punk", "oldies", "blues", "hard rock", "ambient", "acoustic",
    "experimental", "female vocalist", "guitar", "Hip-Hop", "70s", "party", "country",
    "easy listening", "sexy", "catchy", "funk", "electro", "heavy metal", "Progressive rock",
    "60s", "rnb", "indie pop", "sad", "House", "happy",
)  # fmt: skip
MTT_TAGS = (
    "guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast",
    "piano", "ambient", "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male",
    "singing", "vocals", "no vocals", "harpsichord", "loud", "quiet", "flute", "woman",
    "male vocal", "no vocal", "pop", "soft", "sitar", "solo", "man", "classic", "choir", "voice",
    "new age", "dance", "male voice", "female vocal", "beats", "harp", "cello", "no voice",
    "weird", "country", "metal", "female voice", "choral",
)  # fmt: skip


class MusicnnUnavailableError(ModelsError):
    """The musicnn wheel (its checkpoints) is not installed."""


def checkpoint_prefix(model: str) -> str:
    """The TF checkpoint prefix of ``model`` inside the installed musicnn package.

    Raises
    ------
    MusicnnUnavailableError
        The package is not installed, or has no such model.
    """
    if model not in _PRETRAINED:
        raise MusicnnUnavailableError(f"unknown musicnn model {model!r}; one of {_PRETRAINED}")
    spec = importlib.util.find_spec("musicnn")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise MusicnnUnavailableError(
            "the musicnn checkpoints are missing: `make install` installs them "
            "(pip install --no-deps musicnn==0.1.0)"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / model
    if not (folder / ".index").exists():
        raise MusicnnUnavailableError(f"no checkpoint in {folder}")
    # The checkpoint's files are named ".index" and ".data-*": the prefix is the folder plus "/".
    return f"{folder}/"


def musicnn_log_mel(y: np.ndarray) -> np.ndarray:
    """``(frames, 96)`` float32 log-mel of 16 kHz mono audio, as musicnn was trained on."""
    import librosa

    mel = librosa.feature.melspectrogram(
        y=np.asarray(y, dtype=np.float32), sr=MUSICNN_SR, hop_length=FFT_HOP, n_fft=FFT_SIZE,
        n_mels=N_MELS,
    ).T  # fmt: skip
    return np.log10(10000.0 * mel.astype(np.float32) + 1.0)


def musicnn_patches(log_mel: np.ndarray, *, max_patches: int | None = None) -> np.ndarray:
    """``(n, 187, 96)`` non-overlapping 3 s patches; a track shorter than one patch is one
    zero-padded patch. With ``max_patches``, at most that many patches spread evenly over the
    track (the cost per track is then bounded)."""
    frames = log_mel.shape[0]
    if frames < PATCH_FRAMES:
        padded = np.zeros((PATCH_FRAMES, log_mel.shape[1]), dtype=np.float32)
        padded[:frames] = log_mel
        return padded[None]
    starts = np.arange(0, frames - PATCH_FRAMES + 1, PATCH_FRAMES)
    if max_patches is not None and starts.size > max_patches:
        starts = starts[np.linspace(0, starts.size - 1, max_patches).round().astype(int)]
    return np.stack([log_mel[s : s + PATCH_FRAMES] for s in starts]).astype(np.float32)


@dataclass(frozen=True)
class MusicnnOutputs:
    """Per-patch outputs of one model."""

    penultimate: np.ndarray
    """``(n, 200)``: the back end's dense layer after batch norm (musicnn's "penultimate");
    ``(n, 256)`` for a VGG model: its last pooled map, flattened (the input of its tag layer)."""
    tags: np.ndarray
    """``(n, 50)``: tag probabilities (sigmoid of the logits)."""


class Musicnn:
    """One of musicnn's pretrained taggers, its weights read from the installed checkpoint."""

    def __init__(self, model: str = "MSD_musicnn") -> None:
        import tensorflow as tf
        from tensorflow.python.training import py_checkpoint_reader

        self.model = model
        self.tag_names = MSD_TAGS if model.startswith("MSD") else MTT_TAGS
        reader = py_checkpoint_reader.NewCheckpointReader(checkpoint_prefix(model))
        self._w = {
            name: tf.constant(reader.get_tensor(name))
            for name in reader.get_variable_to_shape_map()
            if "Adam" not in name and not name.endswith("_power")
        }
        graph = self._vgg_graph if model in VGG_MODELS else self._graph
        self._forward = tf.function(graph, reduce_retracing=True)
        self._forward_pooled = tf.function(self._pooled, reduce_retracing=True)

    def _bn(self, x, index: int):
        import tensorflow as tf

        name = "batch_normalization" + (f"_{index}" if index else "")
        w = self._w
        scale = w[f"{name}/gamma"] * tf.math.rsqrt(w[f"{name}/moving_variance"] + _BN_EPSILON)
        return (x - w[f"{name}/moving_mean"]) * scale + w[f"{name}/beta"]

    def _conv(self, x, index: int, padding: str):
        import tensorflow as tf

        name = "conv2d" + (f"_{index}" if index else "")
        y = tf.nn.conv2d(x, self._w[f"{name}/kernel"], strides=1, padding=padding)
        return tf.nn.relu(y + self._w[f"{name}/bias"])

    def _pooled(self, x):
        """The back end's input: max and mean over time of the mid end, ``(n, 1506)``."""
        import tensorflow as tf

        pad_time = [[0, 0], [3, 3], [0, 0], [0, 0]]
        inputs = self._bn(tf.expand_dims(x, 3), 0)
        # Front end: timbral (conv 0, 1; BN 1, 2) then temporal (conv 2-4; BN 3-5) filters,
        # each max-pooled over the whole frequency axis.
        front = []
        padded = tf.pad(inputs, pad_time)
        for conv, bn in ((0, 1), (1, 2)):
            front.append(tf.reduce_max(self._bn(self._conv(padded, conv, "VALID"), bn), axis=2))
        for conv, bn in ((2, 3), (3, 4), (4, 5)):
            front.append(tf.reduce_max(self._bn(self._conv(inputs, conv, "SAME"), bn), axis=2))
        front_end = tf.expand_dims(tf.concat(front, axis=2), 3)  # (n, t, 561, 1)
        # Mid end: three 7-frame convolutions over all channels (conv 5-7; BN 6-8), residual.
        layers = [front_end]
        h = front_end
        for k, (conv, bn) in enumerate(((5, 6), (6, 7), (7, 8))):
            out = tf.transpose(
                self._bn(self._conv(tf.pad(h, pad_time), conv, "VALID"), bn), [0, 1, 3, 2]
            )
            h = out if k == 0 else out + h
            layers.append(h)
        mid = tf.concat(layers, axis=2)[..., 0]  # (n, t, 753)
        # Back end: max and mean over time, interleaved per channel as musicnn flattens them.
        return tf.reshape(
            tf.stack([tf.reduce_max(mid, axis=1), tf.reduce_mean(mid, axis=1)], axis=2),
            [-1, 2 * mid.shape[-1]],
        )

    def _graph(self, x):
        import tensorflow as tf

        pooled = self._pooled(x)
        dense = tf.nn.relu(
            tf.matmul(self._bn(pooled, 9), self._w["dense/kernel"]) + self._w["dense/bias"]
        )
        penultimate = self._bn(dense, 10)
        logits = tf.matmul(penultimate, self._w["dense_1/kernel"]) + self._w["dense_1/bias"]
        return penultimate, tf.sigmoid(logits)

    def _vgg_graph(self, x):
        import tensorflow as tf

        w = self._w
        h = self._bn(tf.expand_dims(x, 3), 0)
        pools = ((4, 1, 2, 2), (2, 2, 2, 2), (2, 2, 2, 2), (2, 2, 2, 2), (4, 4, 4, 4))
        for layer, (pool_t, pool_f, stride_t, stride_f) in enumerate(pools, start=1):
            conv = tf.nn.conv2d(h, w[f"{layer}CNN/kernel"], strides=1, padding="SAME")
            h = self._bn(tf.nn.relu(conv + w[f"{layer}CNN/bias"]), layer)
            h = tf.nn.max_pool2d(h, (pool_t, pool_f), (stride_t, stride_f), padding="VALID")
        flat = tf.reshape(h, [tf.shape(h)[0], -1])  # (n, 2 * 1 * 128), as tf.layers.flatten
        logits = tf.matmul(flat, w["dense/kernel"]) + w["dense/bias"]
        return flat, tf.sigmoid(logits)

    def __call__(self, patches: np.ndarray) -> MusicnnOutputs:
        """Outputs for ``(n, frames, 96)`` log-mel patches."""
        penultimate, tags = self._forward(np.asarray(patches, dtype=np.float32))
        return MusicnnOutputs(penultimate=penultimate.numpy(), tags=tags.numpy())

    def back_end_inputs(self, patches: np.ndarray) -> np.ndarray:
        """``(n, 1506)`` float32: what the back end reads for each patch (max and mean over time
        of the 753 mid-end channels, interleaved per channel), the input of a head that
        fine-tunes the back end (:meth:`back_end_weights`). musicnn models only."""
        if self.model in VGG_MODELS:
            raise ValueError(f"{self.model} has no musicnn back end")
        return self._forward_pooled(np.asarray(patches, dtype=np.float32)).numpy()

    def back_end_weights(self) -> dict[str, np.ndarray]:
        """The back end's pretrained weights as arrays: ``bn_in_*`` (batch norm of the pooled
        input: ``scale`` and ``shift`` folded from gamma, beta and the moving statistics),
        ``dense_kernel`` ``(1506, 200)``, ``dense_bias``, then ``bn_out_*`` likewise."""
        out = {}
        for prefix, index in (("bn_in", 9), ("bn_out", 10)):
            name = f"batch_normalization_{index}"
            w = {
                k: self._w[f"{name}/{k}"].numpy()
                for k in ("gamma", "beta", "moving_mean", "moving_variance")
            }
            scale = w["gamma"] / np.sqrt(w["moving_variance"] + _BN_EPSILON)
            out[f"{prefix}_scale"] = scale
            out[f"{prefix}_shift"] = w["beta"] - w["moving_mean"] * scale
        out["dense_kernel"] = self._w["dense/kernel"].numpy()
        out["dense_bias"] = self._w["dense/bias"].numpy()
        return out
