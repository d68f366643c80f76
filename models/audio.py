"""Decoding: any supported container, any rate, mono or stereo -> mono float32 at one rate.

Decoding and resampling happen here, once, at the edge; feature functions take ``y`` and ``sr``.
WAV, FLAC, OGG/Vorbis, OGG/Opus and MP3 are decoded by libsndfile (bundled with ``soundfile``);
resampling uses soxr (high quality). Every failure is an :class:`AudioDecodeError` whose message
says what was wrong with the input.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from models.exceptions import AudioDecodeError, AudioTooLongError, FeatureParameterError

__all__ = ["load_audio", "validate_audio", "AudioSource"]

logger = logging.getLogger(__name__)

AudioSource = str | Path | bytes | bytearray | memoryview

#: Fewer samples than this after decoding means there is no usable audio (about 3 ms at 16 kHz).
_MIN_SAMPLES = 48


def validate_audio(y: np.ndarray, *, name: str = "y") -> np.ndarray:
    """Check ``y`` is a finite, non-empty, 1-D float signal; return it as contiguous float32.

    Raises
    ------
    FeatureParameterError
        naming ``name`` and what is wrong with it.
    """
    if not isinstance(y, np.ndarray):
        raise FeatureParameterError(f"{name} must be a numpy array, got {type(y).__name__}")
    if y.ndim != 1:
        raise FeatureParameterError(f"{name} must be mono (1-D), got shape {y.shape}")
    if y.size == 0:
        raise FeatureParameterError(f"{name} is empty")
    if not np.issubdtype(y.dtype, np.floating):
        raise FeatureParameterError(f"{name} must be floating point, got {y.dtype}")
    if not np.all(np.isfinite(y)):
        raise FeatureParameterError(f"{name} contains NaN or infinite samples")
    return np.ascontiguousarray(y, dtype=np.float32)


def load_audio(
    source: AudioSource,
    *,
    sr: int,
    max_duration_s: float | None = None,
) -> np.ndarray:
    """Decode ``source`` (a path or encoded bytes) to mono float32 at ``sr`` Hz.

    Parameters
    ----------
    source : path or bytes
        An audio file or its bytes: WAV, FLAC, OGG (Vorbis/Opus) or MP3.
    sr : int
        Target sample rate in Hz.
    max_duration_s : float, optional
        Refuse audio longer than this many seconds (checked from the header, before decoding).

    Returns
    -------
    y : np.ndarray [shape=(n,), dtype=float32]
        Samples in [-1, 1] at ``sr`` Hz.

    Raises
    ------
    AudioDecodeError
        Empty, truncated, corrupt or unsupported input.
    AudioTooLongError
        The audio is longer than ``max_duration_s``.
    """
    what = str(source) if isinstance(source, str | Path) else f"{len(source)} bytes of audio"
    if isinstance(source, bytes | bytearray | memoryview):
        if len(source) == 0:
            raise AudioDecodeError("the audio is empty (0 bytes)")
        handle: object = io.BytesIO(bytes(source))
    else:
        if not Path(source).is_file():
            raise AudioDecodeError(f"no audio file at {source}")
        handle = str(source)
    try:
        with sf.SoundFile(handle) as f:
            native_sr = f.samplerate
            if max_duration_s is not None and f.frames > 0:
                duration = f.frames / native_sr
                if duration > max_duration_s:
                    raise AudioTooLongError(
                        f"{what} is {duration:.1f} s long; the limit is {max_duration_s:g} s"
                    )
            data = f.read(dtype="float32", always_2d=True)
    except AudioTooLongError:
        raise
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError, OSError) as exc:
        raise AudioDecodeError(
            f"cannot decode {what}: {exc} (supported: WAV, FLAC, OGG Vorbis/Opus, MP3)"
        ) from exc
    if data.shape[0] < _MIN_SAMPLES:
        raise AudioDecodeError(f"{what} decodes to {data.shape[0]} samples: no usable audio")
    y = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if max_duration_s is not None and y.size / native_sr > max_duration_s:
        raise AudioTooLongError(
            f"{what} is {y.size / native_sr:.1f} s long; the limit is {max_duration_s:g} s"
        )
    if not np.all(np.isfinite(y)):
        raise AudioDecodeError(f"{what} decodes to NaN or infinite samples")
    if native_sr != sr:
        y = soxr.resample(y, native_sr, sr, quality="HQ")
    return np.ascontiguousarray(np.clip(y, -1.0, 1.0), dtype=np.float32)
