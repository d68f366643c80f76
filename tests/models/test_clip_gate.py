"""The one clip gate that HTTP and Kafka share (issue 15, item 6): same decoder, same limits."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from models.exceptions import (
    AudioDecodeError,
    AudioTooLargeError,
    AudioTooLongError,
    AudioTooShortError,
)
from models.voice import MAX_CLIP_BYTES, decode_voice_clip
from tests.models.synthetic_signals import encode_with_ffmpeg, harmonic_tone


def _wav(y: np.ndarray, sr: int, subtype: str = "PCM_16") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, y, sr, format="WAV", subtype=subtype)
    return buf.getvalue()


def test_a_normal_wav_and_an_m4a_clip_pass_at_16_khz() -> None:
    y = harmonic_tone(180.0, sr=44100, seconds=2.0)
    for data in (_wav(y, 44100), encode_with_ffmpeg(y, 44100, "mp4", "aac")):
        out = decode_voice_clip(data)
        assert out.dtype == np.float32 and abs(out.size / 16000 - 2.0) < 0.1


def test_a_wav_of_nan_samples_is_refused() -> None:
    y = np.full(16000, np.nan, dtype=np.float32)
    with pytest.raises(AudioDecodeError, match="NaN or infinite"):
        decode_voice_clip(_wav(y, 16000, "FLOAT"))


def test_a_wav_sampled_at_1_hz_is_refused_with_the_rate() -> None:
    with pytest.raises(AudioDecodeError, match="sampled at 1 Hz; at least 8000 Hz"):
        decode_voice_clip(_wav(np.zeros(40, np.float32), 1))


def test_too_large_too_long_and_too_short_clips_are_refused_with_the_numbers() -> None:
    with pytest.raises(AudioTooLargeError, match="the limit is 10 MiB"):
        decode_voice_clip(b"RIFF" + bytes(MAX_CLIP_BYTES))
    with pytest.raises(AudioTooLongError, match="the limit is 30 s"):
        decode_voice_clip(_wav(np.zeros(16000 * 31, np.float32), 16000))
    with pytest.raises(AudioTooShortError, match="at least 0.5 s"):
        decode_voice_clip(_wav(np.zeros(4000, np.float32), 16000))
