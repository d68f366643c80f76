"""Decoding: formats, rates and channels in; one clear error for every kind of bad input."""

from __future__ import annotations

import numpy as np
import pytest

from models.audio import load_audio
from models.exceptions import AudioDecodeError, AudioTooLongError
from tests.models.synthetic_signals import encode, harmonic_tone


@pytest.mark.parametrize(
    "fmt, subtype",
    [
        ("WAV", "PCM_16"),
        ("WAV", "FLOAT"),
        ("FLAC", None),
        ("OGG", "VORBIS"),
        ("OGG", "OPUS"),
        ("MP3", "MPEG_LAYER_III"),
    ],
)
def test_formats_decode_to_the_same_signal(fmt: str, subtype: str) -> None:
    sr_in = 48000 if subtype == "OPUS" else 44100
    y = harmonic_tone(440.0, sr=sr_in, seconds=2.0)
    out = load_audio(encode(y, sr_in, fmt, subtype), sr=22050)
    assert out.dtype == np.float32 and out.ndim == 1
    assert abs(out.size - 2.0 * 22050) < 0.06 * 22050  # codecs may pad a few ms
    spectrum = np.abs(np.fft.rfft(out[2048 : 2048 + 16384]))
    assert np.argmax(spectrum) * 22050 / 16384 == pytest.approx(440.0, abs=3.0)


def test_stereo_is_mixed_to_mono_and_resampled(tmp_path) -> None:
    left = harmonic_tone(220.0, sr=48000, seconds=1.0)
    stereo = np.stack([left, np.zeros_like(left)], axis=1)
    path = tmp_path / "stereo.wav"
    path.write_bytes(encode(stereo, 48000, "WAV", "FLOAT"))
    out = load_audio(path, sr=16000)
    assert out.shape == (16000,)
    assert np.max(np.abs(out)) == pytest.approx(np.max(np.abs(left)) / 2, rel=0.05)


def test_empty_bytes() -> None:
    with pytest.raises(AudioDecodeError, match="empty"):
        load_audio(b"", sr=16000)


def test_missing_file(tmp_path) -> None:
    with pytest.raises(AudioDecodeError, match="no audio file"):
        load_audio(tmp_path / "nope.wav", sr=16000)


@pytest.mark.parametrize(
    "junk",
    [b"\x00" * 1000, b"RIFF\x10\x00\x00\x00WAVEfmt garbage", np.random.default_rng(0).bytes(5000)],
)
def test_corrupt_bytes(junk: bytes) -> None:
    with pytest.raises(AudioDecodeError, match="cannot decode"):
        load_audio(junk, sr=16000)


def test_unsupported_format_names_the_supported_ones() -> None:
    fake_mp4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 2000
    with pytest.raises(AudioDecodeError, match="supported: WAV, FLAC"):
        load_audio(fake_mp4, sr=16000)


def test_truncated_header_only() -> None:
    data = encode(harmonic_tone(440.0, seconds=1.0), 22050, "WAV", "PCM_16")
    with pytest.raises(AudioDecodeError):
        load_audio(data[:60], sr=22050)


def test_too_long_is_refused_with_the_numbers() -> None:
    data = encode(harmonic_tone(440.0, sr=16000, seconds=3.0), 16000, "FLAC")
    with pytest.raises(AudioTooLongError, match=r"is 3\.0 s long; the limit is 2 s"):
        load_audio(data, sr=16000, max_duration_s=2.0)
    assert load_audio(data, sr=16000, max_duration_s=3.5).size == 48000


@pytest.mark.parametrize("channels", [1, 2, 3])
def test_downmix_is_the_channel_mean(channels):
    from models.audio import _downmix

    block = np.random.default_rng(channels).uniform(-1, 1, (4096, channels)).astype(np.float32)
    mono = _downmix(block)
    assert mono.dtype == np.float32 and mono.flags.c_contiguous and mono.shape == (4096,)
    np.testing.assert_allclose(mono, block.mean(axis=1), rtol=0, atol=1e-6)
    assert not np.shares_memory(mono, block)
