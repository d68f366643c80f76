"""Voice emotion: the clip gate, cached model inputs, training and the serving classifier.

(Cross-validation of the Table 3 rows is :func:`models.voice_jobs.evaluate_voice`.)

:func:`decode_voice_clip` is the one clip gate that the HTTP API and the Kafka path both apply,
so that they accept and refuse exactly the same clips with the same reasons: 0.5 s to 30 s, at
most 10 MiB, sampled at 8 kHz or more, mono or stereo (decoded and resampled to 16 kHz). Before
:class:`VoiceEmotionClassifier` reads an emotion, the speech rule of
:func:`models.features.voice.speech_activity` runs: a clip without speech (silence, steady noise)
gets an explicit "no speech" answer, never a confident emotion.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from models.audio import load_audio
from models.calibration import apply_temperature, fit_temperature
from models.exceptions import (
    AudioDecodeError,
    AudioTooLargeError,
    AudioTooLongError,
    AudioTooShortError,
    DatasetError,
)
from models.feature_cache import file_sha256
from models.features.voice import DEFAULT_VOICE_SPEC, analyse_clip, voice_inputs
from models.splits import validation_mask
from schemas.emotions import EMOTIONS

if TYPE_CHECKING:  # TensorFlow loads only where a network is built: clip readers do without
    from models.voice_model import VoiceModelConfig

__all__ = [
    "MIN_CLIP_S",
    "MAX_CLIP_S",
    "MAX_CLIP_BYTES",
    "MIN_CLIP_SAMPLE_RATE",
    "decode_voice_clip",
    "VoiceSample",
    "VoiceFeatureCache",
    "pad_voice_batch",
    "fit_voice_model",
    "voice_temperature",
    "VoiceAnswer",
    "ClipReading",
    "read_voice_clip",
    "VoiceEmotionClassifier",
    "FunctionalsVoiceClassifier",
    "load_voice_classifier",
]

logger = logging.getLogger(__name__)

MIN_CLIP_S = 0.5
MAX_CLIP_S = 30.0
#: Largest encoded clip accepted (bytes), inline on Kafka, by object key or over HTTP.
MAX_CLIP_BYTES = 10 * 1024 * 1024
#: Lowest sample rate (Hz) of a clip's own audio: telephone speech is 8 kHz.
MIN_CLIP_SAMPLE_RATE = 8000


def decode_voice_clip(audio: bytes | bytearray | memoryview | str | Path) -> np.ndarray:
    """The clip gate: decode one encoded voice clip to mono float32 at 16 kHz, or refuse it.

    Every path a clip comes in on (HTTP, inline on Kafka, by object key) calls this, so every
    path accepts and refuses the same clips with the same messages.

    Returns
    -------
    y : np.ndarray [shape=(n,), dtype=float32]
        At least ``MIN_CLIP_S`` and at most ``MAX_CLIP_S`` seconds at 16 kHz, finite.

    Raises
    ------
    AudioTooLargeError
        More than ``MAX_CLIP_BYTES`` encoded bytes (checked before decoding).
    AudioTooLongError / AudioTooShortError
        Outside ``MIN_CLIP_S`` .. ``MAX_CLIP_S``.
    AudioDecodeError
        Empty, corrupt, undecodable, NaN/inf samples, or sampled below 8 kHz.
    """
    if isinstance(audio, bytes | bytearray | memoryview) and len(audio) > MAX_CLIP_BYTES:
        raise AudioTooLargeError(
            f"the clip is {len(audio) / 2**20:.1f} MiB; the limit is {MAX_CLIP_BYTES // 2**20} MiB"
        )
    rate = DEFAULT_VOICE_SPEC.sr
    y = load_audio(audio, sr=rate, max_duration_s=MAX_CLIP_S, min_sample_rate=MIN_CLIP_SAMPLE_RATE)
    if y.size < MIN_CLIP_S * rate:
        raise AudioTooShortError(
            f"the clip is {y.size / rate:.2f} s long; at least {MIN_CLIP_S} s of audio is needed"
        )
    return y


@dataclass(frozen=True)
class VoiceSample:
    """Both channels' inputs of one clip."""

    hsf: np.ndarray  # (windows, 172) float32
    spectrogram: np.ndarray  # (windows, 161, 50) float16 on disk, float32 in batches
    quality: np.ndarray | None = None  # (27,) float32: models.features.voice_quality


def _extract(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    inputs = voice_inputs(y=load_audio(path, sr=DEFAULT_VOICE_SPEC.sr), sr=DEFAULT_VOICE_SPEC.sr)
    return inputs.hsf.astype(np.float32), inputs.spectrogram.astype(np.float16), inputs.quality


class VoiceFeatureCache:
    """Voice inputs of audio files, cached by content hash and voice feature-spec version."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root) / DEFAULT_VOICE_SPEC.version
        self.root.mkdir(parents=True, exist_ok=True)

    def samples(
        self, paths: Sequence[Path], *, workers: int | None = None, progress=None
    ) -> tuple[list[VoiceSample], list[str]]:
        """Inputs and file hashes of ``paths``, computing the missing inputs in parallel."""
        hashes = [file_sha256(Path(p)) for p in paths]
        missing = [
            (p, h)
            for p, h in zip(paths, hashes, strict=True)
            if not (self.root / f"{h}.npz").exists()
        ]
        if missing:
            workers = workers or max(1, min(os.cpu_count() or 1, 4))
            with ProcessPoolExecutor(max_workers=workers) as pool:
                futures = [(p, h, pool.submit(_extract, str(p))) for p, h in missing]
                for p, h, future in futures:
                    try:
                        hsf, spec, quality = future.result()
                    except AudioDecodeError as exc:
                        raise DatasetError(f"{p}: {exc}") from exc
                    tmp = self.root / f"{h}.tmp.npz"
                    np.savez(tmp, hsf=hsf, spectrogram=spec, quality=quality)
                    tmp.replace(self.root / f"{h}.npz")
                    if progress is not None:
                        progress(1)
        out = []
        for h in hashes:
            with np.load(self.root / f"{h}.npz") as data:
                out.append(VoiceSample(data["hsf"], data["spectrogram"], data["quality"]))
        return out, hashes


def pad_voice_batch(samples: Sequence[VoiceSample]) -> tuple[np.ndarray, np.ndarray]:
    """Zero-pad to the longest clip: ``(N, W, 172)`` and ``(N, W, 161, 50)`` float32."""
    longest = max(s.hsf.shape[0] for s in samples)
    hsf = np.zeros((len(samples), longest, samples[0].hsf.shape[1]), np.float32)
    spec = np.zeros((len(samples), longest, *samples[0].spectrogram.shape[1:]), np.float32)
    for i, s in enumerate(samples):
        hsf[i, : s.hsf.shape[0]] = s.hsf
        spec[i, : s.spectrogram.shape[0]] = s.spectrogram
    return hsf, spec


def fit_voice_model(
    config: VoiceModelConfig,
    samples: Sequence[VoiceSample],
    labels: Sequence[str],
    groups: Sequence[str],
    *,
    seed: int = 0,
    verbose: int = 0,
):
    """Train one voice model; early stopping on held-out speakers. Return (model, history)."""
    import keras

    from models.voice_model import build_voice_model

    keras.utils.set_random_seed(seed)
    y = keras.utils.to_categorical([EMOTIONS.index(e) for e in labels], len(EMOTIONS))
    val = validation_mask(np.asarray(groups), seed)
    train_idx = np.flatnonzero(~val) if val is not None else np.arange(len(samples))
    hsf_rows = np.concatenate([samples[i].hsf for i in train_idx])
    spec_values = np.concatenate([samples[i].spectrogram.ravel()[::97] for i in train_idx]).astype(
        np.float32
    )
    model = build_voice_model(
        config,
        hsf_mean=hsf_rows.mean(axis=0), hsf_std=hsf_rows.std(axis=0),
        spec_mean=float(spec_values.mean()), spec_std=float(spec_values.std() + 1e-6),
    )  # fmt: skip
    hsf, spec = pad_voice_batch(samples)
    fit_args, monitor = {}, "loss"
    if val is not None:
        val_idx = np.flatnonzero(val)
        fit_args["validation_data"] = ((hsf[val_idx], spec[val_idx]), y[val_idx])
        monitor = "val_loss"
    history = model.fit(
        (hsf[train_idx], spec[train_idx]), y[train_idx],
        batch_size=config.batch_size, epochs=config.max_epochs, shuffle=True, verbose=verbose,
        callbacks=[keras.callbacks.EarlyStopping(monitor=monitor, patience=config.patience, restore_best_weights=True)],
        **fit_args,
    )  # fmt: skip
    return model, history.history


def voice_temperature(
    model, samples: Sequence[VoiceSample], labels: Sequence[str], groups: Sequence[str], *,
    seed: int = 0,
) -> float:  # fmt: skip
    """The temperature that calibrates a model :func:`fit_voice_model` trained on these clips,
    fitted on its held-out validation speakers (the same ``seed``, so the same speakers); 1.0
    when training had no validation split."""
    val = validation_mask(np.asarray(groups), seed)
    if val is None:
        return 1.0
    index = np.flatnonzero(val)
    hsf, spec = pad_voice_batch([samples[i] for i in index])
    probs = np.asarray(model((hsf, spec), training=False))
    return fit_temperature(probs, np.array([EMOTIONS.index(labels[i]) for i in index]))


@dataclass(frozen=True)
class VoiceAnswer:
    """What the voice model read from a clip."""

    has_speech: bool
    emotion: str | None
    """None when the clip holds no speech."""
    probabilities: dict[str, float]
    voiced_s: float
    duration_s: float
    functionals: np.ndarray | None = None
    """The clip's HSF functionals (:func:`models.voice_candidates.clip_functionals`) when it
    holds speech: what the listener's voice history adds up."""


@dataclass(frozen=True)
class ClipReading:
    """What a clip says before any listener's history is applied: the costly part of reading
    it (decode, speech rule, features), computed without touching listener state, so clips of
    different listeners can be read side by side (:meth:`_VoiceReader.read`)."""

    activity: object
    """The voice-activity summary (``voiced_s``)."""
    duration_s: float
    inputs: object | None
    """The model inputs (HSF, spectrogram); None when the clip holds no speech."""
    functionals: np.ndarray | None


def read_voice_clip(
    audio: bytes | str | Path | np.ndarray, *, sr: int | None = None
) -> ClipReading:
    """Decode a clip (encoded bytes, a path, or samples with ``sr``) through the clip gate and
    compute its features. Needs no model and touches no listener state, so clips can be read
    side by side, in threads or in other processes.

    Raises
    ------
    AudioDecodeError
        Refused by the clip gate (:func:`decode_voice_clip`): empty, corrupt, too large,
        sampled below 8 kHz, or outside 0.5-30 s.
    """
    from models.voice_candidates import clip_functionals

    y = _clip_samples(audio, sr)
    rate = DEFAULT_VOICE_SPEC.sr
    activity, inputs = analyse_clip(y=y, sr=rate)
    functionals = clip_functionals(inputs.hsf, inputs.quality) if inputs is not None else None
    return ClipReading(activity, y.size / rate, inputs, functionals)


class _VoiceReader:
    """Decode, speech rule, features; subclasses turn the features into probabilities."""

    version: str

    def _probabilities(self, inputs, functionals: np.ndarray, history: dict | None) -> np.ndarray:
        raise NotImplementedError

    def read(self, audio: bytes | str | Path | np.ndarray, *, sr: int | None = None) -> ClipReading:
        """:func:`read_voice_clip`: the listener-independent, CPU-heavy half of :meth:`classify`
        (the same for every model: a worker may run it in another process)."""
        return read_voice_clip(audio, sr=sr)

    def answer(self, reading: ClipReading, *, history: dict | None = None) -> VoiceAnswer:
        """The emotion of a read clip, against the listener's voice ``history`` (models that
        normalise per listener use it): the cheap, listener-dependent half of :meth:`classify`."""
        if reading.inputs is None:
            return VoiceAnswer(False, None, {}, reading.activity.voiced_s, reading.duration_s)
        probs = self._probabilities(reading.inputs, reading.functionals, history)
        return VoiceAnswer(
            True,
            EMOTIONS[int(np.argmax(probs))],
            {e: float(p) for e, p in zip(EMOTIONS, probs, strict=True)},
            reading.activity.voiced_s,
            reading.duration_s,
            reading.functionals,
        )

    def classify(
        self, audio: bytes | str | Path | np.ndarray, *, sr: int | None = None,
        history: dict | None = None,
    ) -> VoiceAnswer:  # fmt: skip
        """Read the emotion of one clip (encoded bytes, a path, or samples with ``sr``);
        ``history`` is the listener's voice history (models that normalise per listener use it).
        :meth:`read` then :meth:`answer`.

        Raises
        ------
        AudioDecodeError
            Refused by the clip gate (:func:`decode_voice_clip`): empty, corrupt, too large,
            sampled below 8 kHz, or outside 0.5-30 s.
        """
        return self.answer(self.read(audio, sr=sr), history=history)


class VoiceEmotionClassifier(_VoiceReader):
    """A trained voice network, ready to serve: decode, speech rule, features, one tf.function."""

    def __init__(self, model, *, version: str = "local", temperature: float = 1.0) -> None:
        import tensorflow as tf

        self.model = model
        self.version = version
        self.temperature = temperature
        """Calibrates the probabilities (:func:`voice_temperature`, stored with the model)."""
        self._predict = tf.function(
            lambda hsf, spec: model((hsf, spec), training=False),
            input_signature=[
                tf.TensorSpec([None, None, 172], tf.float32),
                tf.TensorSpec([None, None, 161, 50], tf.float32),
            ],
            reduce_retracing=True,
        )

    @classmethod
    def load(
        cls, path: Path, *, version: str = "local", temperature: float = 1.0
    ) -> VoiceEmotionClassifier:
        """Load a saved ``.keras`` file."""
        import keras

        import models.layers  # noqa: F401  (registers the custom layers)
        import models.voice_model  # noqa: F401

        return cls(
            keras.models.load_model(path, compile=False), version=version, temperature=temperature
        )

    def predict_samples(self, samples: Sequence[VoiceSample]) -> np.ndarray:
        """Calibrated class probabilities ``(N, 4)`` for prepared inputs."""
        hsf, spec = pad_voice_batch(samples)
        probs = np.asarray(self._predict(hsf, spec))
        return probs if self.temperature == 1.0 else apply_temperature(probs, self.temperature)

    def _probabilities(self, inputs, functionals: np.ndarray, history: dict | None) -> np.ndarray:
        sample = VoiceSample(inputs.hsf, inputs.spectrogram, inputs.quality)
        return self.predict_samples([sample])[0]


class FunctionalsVoiceClassifier(_VoiceReader):
    """A voice candidate (:mod:`models.voice_candidates`) ready to serve: the clip's HSF
    functionals, normalised by the listener's earlier clips when the model was trained so,
    through a logistic regression and its temperature. No TensorFlow."""

    def __init__(self, head, *, version: str = "local") -> None:
        self.head = head
        self.version = version

    def _probabilities(self, inputs, functionals: np.ndarray, history: dict | None) -> np.ndarray:
        return self.head.probabilities(functionals, history)


def load_voice_classifier(registry, cache_dir: Path, version: str | None = None):
    """The promoted (or given) voice model, whichever kind its record names, and the record;
    refuses one trained on other voice features."""
    record, folder = registry.fetch(
        "voice", version, dest=cache_dir, expected_feature_spec=DEFAULT_VOICE_SPEC.version
    )
    if "head.npz" in record.files:
        from models.voice_candidates import VoiceHead

        head = VoiceHead.load(folder / "head.npz")
        return FunctionalsVoiceClassifier(head, version=record.version), record
    temperature = float(record.hyperparameters.get("temperature", 1.0))
    return VoiceEmotionClassifier.load(
        folder / "model.keras", version=record.version, temperature=temperature
    ), record


def _clip_samples(audio: bytes | str | Path | np.ndarray, sr: int | None) -> np.ndarray:
    """16 kHz mono samples of a clip that passed the clip gate."""
    rate = DEFAULT_VOICE_SPEC.sr
    if isinstance(audio, np.ndarray):
        import soxr

        y = np.asarray(audio, dtype=np.float32)
        if y.ndim == 2:
            y = y.mean(axis=1)
        if sr is None:
            raise ValueError("samples need their sample rate: classify(y, sr=...)")
        if sr != rate:
            y = soxr.resample(y, sr, rate).astype(np.float32)
        if y.size / rate > MAX_CLIP_S:
            raise AudioTooLongError(
                f"the clip is {y.size / rate:.1f} s long; the limit is {MAX_CLIP_S:.0f} s"
            )
        if y.size / rate < MIN_CLIP_S:
            raise AudioTooShortError(
                f"the clip is {y.size / rate:.2f} s long; at least {MIN_CLIP_S} s of audio "
                "is needed"
            )
    else:
        y = decode_voice_clip(audio)
    return y
