"""LPC root finding for formants: the fast envelope-peak finder against the companion matrix."""

from __future__ import annotations

import numpy as np
import pytest

from models.datasets.vowels import vowel
from models.exceptions import FeatureParameterError
from models.features.dsp import (
    companion_roots,
    envelope_peak_roots,
    frame_signal,
    lpc_coefficients,
    lpc_formants,
)

SR = 11025
#: The music features' LPC settings at the 11 025 Hz analysis rate.
LPC = dict(sr=SR, order=14, preemphasis=0.9, min_hz=90.0, max_hz=5000.0, max_bandwidth_hz=400.0)


def _polynomial(poles_hz: list[tuple[float, float]]) -> np.ndarray:
    """A(z) coefficients (1, p + 1) whose roots are the conjugate pairs at (frequency, bandwidth)."""
    roots = []
    for freq, bandwidth in poles_hz:
        z = np.exp(-np.pi * bandwidth / SR) * np.exp(2j * np.pi * freq / SR)
        roots += [z, np.conj(z)]
    return np.real(np.poly(roots))[None, :]


def _hz(roots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    roots = roots[~np.isnan(roots)]
    return np.angle(roots) * SR / (2 * np.pi), -SR / np.pi * np.log(np.abs(roots))


def test_envelope_peaks_give_the_exact_roots_of_separated_resonances() -> None:
    poles = [(500.0, 60.0), (1500.0, 90.0), (2500.0, 150.0), (3500.0, 300.0)]
    roots = envelope_peak_roots(_polynomial(poles), sr=SR, min_hz=90.0, max_hz=5000.0, grid=256)
    freqs, bandwidths = _hz(roots[0])
    np.testing.assert_allclose(freqs, [f for f, _ in poles], atol=1e-4)
    np.testing.assert_allclose(bandwidths, [b for _, b in poles], atol=1e-4)


def test_a_resonance_without_a_peak_of_its_own_is_not_a_candidate() -> None:
    # 1000 and 1040 Hz at 150 Hz bandwidth merge into one envelope peak.
    a = _polynomial([(1000.0, 150.0), (1040.0, 150.0), (2500.0, 80.0)])
    all_roots = companion_roots(a)[0]
    assert (all_roots.imag > 0).sum() == 3
    freqs, _ = _hz(envelope_peak_roots(a, sr=SR, min_hz=90.0, max_hz=5000.0, grid=256)[0])
    assert freqs.size == 2  # one root of the merged pair, and 2500 Hz; never the same root twice
    assert 990.0 < freqs[0] < 1050.0
    assert freqs[1] == pytest.approx(2500.0, abs=1e-3)


def test_both_finders_agree_on_source_filter_vowels() -> None:
    y = vowel((730.0, 1090.0, 2440.0), (90.0, 110.0, 160.0), sr=SR, seconds=2.0)
    frames = frame_signal(y, 512, 512)
    active = np.ones(frames.shape[0], dtype=bool)
    exact, exact_bw = lpc_formants(frames, active=active, root_finder="companion", **LPC)
    fast, fast_bw = lpc_formants(frames, active=active, root_finder="envelope-peaks", **LPC)
    assert not np.isnan(exact).all()
    np.testing.assert_allclose(fast, exact, atol=1e-3)
    np.testing.assert_allclose(fast_bw, exact_bw, atol=1e-3)


def test_silent_and_unstable_frames_give_no_roots() -> None:
    frames = np.zeros((3, 512), dtype=np.float32)
    a, stable = lpc_coefficients(frames, order=14, preemphasis=0.9)
    assert np.all(np.isfinite(a))
    roots = envelope_peak_roots(a, sr=SR, min_hz=90.0, max_hz=5000.0, grid=256)
    assert np.isnan(roots).all()
    freqs, bandwidths = lpc_formants(
        frames, active=np.ones(3, dtype=bool), root_finder="envelope-peaks", **LPC
    )
    assert freqs.shape == bandwidths.shape == (3, 3)
    assert np.isnan(freqs).all() and np.isnan(bandwidths).all()


def test_unknown_root_finder_is_refused() -> None:
    with pytest.raises(FeatureParameterError, match="root_finder='magic'"):
        lpc_formants(
            np.zeros((1, 512), dtype=np.float32),
            active=np.ones(1, dtype=bool),
            root_finder="magic",
            **LPC,
        )
