"""Voice-quality descriptors on signals whose answer is known (models.features.voice_quality)."""

from __future__ import annotations

import numpy as np
import pytest

from models.features.voice import voice_inputs
from models.features.voice_quality import (
    N_QUALITY,
    QUALITY_NAMES,
    alpha_ratio_db,
    hammarberg_db,
    harmonics_to_noise_db,
    jitter_shimmer,
    spectral_slope_db_per_khz,
)
from tests.models.synthetic_signals import harmonic_tone

SR, HOP = 16000, 160
HZ = np.arange(161) * 50.0  # the voice framing's bins: 320-point FFT at 16 kHz


def _pulse_train(periods: list[int], amplitudes: list[float], seconds: float = 1.0) -> np.ndarray:
    """Decaying pulses whose spacing and height cycle through ``periods`` and ``amplitudes``."""
    y = np.zeros(int(SR * seconds))
    position, k = 50, 0
    while position < y.size - 1:
        y[position] = amplitudes[k % len(amplitudes)]
        position += periods[k % len(periods)]
        k += 1
    return np.convolve(y, np.exp(-np.arange(30) / 6.0))[: y.size].astype(np.float32)


def _voiced_track(y: np.ndarray, f0: float) -> np.ndarray:
    return np.full(y.size // HOP, f0)


def test_jitter_and_shimmer_of_alternating_periods_and_heights() -> None:
    y = _pulse_train([100, 104], [1.0, 0.8])
    jitter, shimmer = jitter_shimmer(y, _voiced_track(y, SR / 102), sr=SR, hop_length=HOP)
    assert jitter == pytest.approx(4 / 102, rel=0.02)
    assert shimmer == pytest.approx(0.2 / 0.9, rel=0.02)


def test_a_perfectly_periodic_voice_has_no_jitter_or_shimmer() -> None:
    y = _pulse_train([100], [1.0])
    assert jitter_shimmer(y, _voiced_track(y, SR / 100), sr=SR, hop_length=HOP) == (0.0, 0.0)
    unvoiced = np.full(y.size // HOP, np.nan)
    assert jitter_shimmer(y, unvoiced, sr=SR, hop_length=HOP) == (0.0, 0.0)


@pytest.mark.parametrize("hnr_db", [5.0, 10.0, 20.0])
def test_harmonics_to_noise_ratio_of_a_tone_in_known_noise(hnr_db: float) -> None:
    rng = np.random.default_rng(0)
    tone = harmonic_tone(160.0, sr=SR, seconds=1.0, n_harmonics=6).astype(np.float64)
    tone = tone - tone.mean()
    noise = rng.standard_normal(tone.size)
    noise *= np.sqrt(np.mean(tone**2) / np.mean(noise**2) / 10 ** (hnr_db / 10))
    y = tone + noise
    frames = np.lib.stride_tricks.sliding_window_view(y, 320)[::HOP]
    estimate = harmonics_to_noise_db(frames, np.full(frames.shape[0], 160.0), sr=SR)
    assert np.nanmedian(estimate) == pytest.approx(hnr_db, abs=1.5)


def test_harmonics_to_noise_is_undefined_in_unvoiced_frames() -> None:
    frames = np.ones((3, 320), np.float32)
    assert np.isnan(harmonics_to_noise_db(frames, np.full(3, np.nan), sr=SR)).all()


def test_spectral_slope_of_a_known_tilt() -> None:
    power = np.tile(10 ** (-12.0 * HZ / 1000 / 10), (2, 1))  # -12 dB per kHz everywhere
    for lo, hi in ((0.0, 500.0), (500.0, 1500.0)):
        assert spectral_slope_db_per_khz(power, HZ, lo, hi) == pytest.approx([-12.0, -12.0])


def test_alpha_ratio_of_a_flat_spectrum_is_the_ratio_of_bandwidths() -> None:
    flat = np.ones((1, HZ.size))
    # 19 bins in 50-1000 Hz, 80 in 1000-5000 Hz.
    assert alpha_ratio_db(flat, HZ)[0] == pytest.approx(10 * np.log10(19 / 80))


def test_hammarberg_index_of_two_tones_20_db_apart() -> None:
    t = np.arange(320) / SR
    frame = 0.5 * np.sin(2 * np.pi * 1000 * t) + 0.05 * np.sin(2 * np.pi * 3000 * t)
    power = np.abs(np.fft.rfft(frame * np.hamming(320))) ** 2
    assert hammarberg_db(power[None, :], HZ)[0] == pytest.approx(20.0, abs=0.5)


def test_rhythm_pitch_and_loudness_of_tone_bursts() -> None:
    """Four 150 ms bursts of a 220 Hz tone a second, 100 ms of silence between them."""
    burst = harmonic_tone(220.0, sr=SR, seconds=0.15)
    y = np.concatenate([np.concatenate([burst, np.zeros(int(0.1 * SR), np.float32)])] * 12)
    quality = dict(zip(QUALITY_NAMES, voice_inputs(y=y, sr=SR).quality, strict=True))
    assert len(quality) == N_QUALITY
    assert quality["voiced_runs_per_s"] == pytest.approx(4.0, abs=0.4)
    assert quality["voiced_run_s"] == pytest.approx(0.15, abs=0.03)
    assert quality["loudness_peaks_per_s"] == pytest.approx(4.0, abs=0.4)
    assert quality["f0_p50_st"] == pytest.approx(12 * np.log2(220 / 27.5), abs=0.2)  # 36 st
    assert quality["f0_range_st"] < 0.3
    assert quality["hnr_db_mean"] > 15  # a clean tone


def test_silence_gives_zeros_not_nan() -> None:
    quality = voice_inputs(y=np.zeros(SR, np.float32), sr=SR).quality
    assert quality.shape == (N_QUALITY,) and np.isfinite(quality).all()
