"""Seeded test signals whose answer is known: tones, source-filter vowels, click tracks, noise bands."""

from __future__ import annotations

import io

import av
import numpy as np
import scipy.signal
import soundfile as sf

from models.datasets.vowels import vowel

__all__ = [
    "harmonic_tone",
    "vowel",
    "click_track",
    "band_noise",
    "encode",
    "encode_with_ffmpeg",
]


def harmonic_tone(
    f0: float, *, sr: int = 22050, seconds: float = 6.0, n_harmonics: int = 6, seed: int = 0
) -> np.ndarray:
    """A harmonic tone at ``f0`` Hz with 1/k harmonic amplitudes and a little noise."""
    t = np.arange(int(sr * seconds)) / sr
    y = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, n_harmonics + 1))
    y = 0.3 * y / np.max(np.abs(y))
    return (y + 0.001 * np.random.default_rng(seed).standard_normal(t.size)).astype(np.float32)


def click_track(bpm: float, *, sr: int = 22050, seconds: float = 12.0) -> np.ndarray:
    """Short decaying noise bursts every 60/bpm seconds."""
    rng = np.random.default_rng(1)
    y = np.zeros(int(sr * seconds))
    click = rng.standard_normal(int(0.01 * sr)) * np.exp(-np.linspace(0, 8, int(0.01 * sr)))
    period = 60.0 / bpm
    for start in np.arange(0, seconds - 0.02, period):
        i = int(round(start * sr))
        y[i : i + click.size] += click
    return (0.5 * y / np.max(np.abs(y))).astype(np.float32)


def band_noise(
    low_hz: float, high_hz: float, *, sr: int = 22050, seconds: float = 6.0, seed: int = 2
) -> np.ndarray:
    """White noise band-passed to [low_hz, high_hz] (8th-order Butterworth)."""
    noise = np.random.default_rng(seed).standard_normal(int(sr * seconds))
    sos = scipy.signal.butter(8, [low_hz, high_hz], btype="bandpass", fs=sr, output="sos")
    y = scipy.signal.sosfilt(sos, noise)
    return (0.5 * y / np.max(np.abs(y))).astype(np.float32)


def encode(y: np.ndarray, sr: int, fmt: str = "WAV", subtype: str | None = None) -> bytes:
    """``y`` as the bytes of an audio file (WAV, FLAC, OGG, MP3)."""
    buf = io.BytesIO()
    sf.write(buf, y, sr, format=fmt, subtype=subtype)
    return buf.getvalue()


def encode_with_ffmpeg(y: np.ndarray, sr: int, container: str, codec: str) -> bytes:
    """Mono or stereo (n, 2) float ``y`` as the bytes of ``container`` encoded by FFmpeg ``codec``.

    For what libsndfile does not write: M4A/AAC, or a WAV holding a codec libsndfile cannot read.
    """
    stereo = y.ndim == 2
    buf = io.BytesIO()
    with av.open(buf, "w", format=container) as out:
        stream = out.add_stream(codec, rate=sr, layout="stereo" if stereo else "mono")
        sample_format = stream.codec_context.format
        step = stream.codec_context.frame_size or 1024
        for start in range(0, y.shape[0], step):
            chunk = y[start : start + step].reshape(-1, 2 if stereo else 1)
            if sample_format.name.startswith("s16"):
                chunk = np.round(chunk * 32767).astype(np.int16)
            else:
                chunk = chunk.astype(np.float32)
            array = chunk.T if sample_format.is_planar else chunk.reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(array), format=sample_format.name, layout=stream.layout.name
            )
            frame.sample_rate = sr
            frame.pts = start
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()
