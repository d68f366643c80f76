"""Source-filter vowels of known formants: the truth formant estimators are checked against."""

from __future__ import annotations

import numpy as np
import scipy.signal

__all__ = ["vowel"]


def vowel(
    formants: tuple[float, ...],
    bandwidths: tuple[float, ...],
    *,
    f0: float = 110.0,
    sr: int = 22050,
    seconds: float = 6.0,
) -> np.ndarray:
    """A source-filter vowel: a glottal impulse train through two-pole resonators at ``formants``."""
    n = int(sr * seconds)
    source = np.zeros(n)
    source[:: int(round(sr / f0))] = 1.0
    y = source
    for f, bw in zip(formants, bandwidths, strict=True):
        r = np.exp(-np.pi * bw / sr)
        theta = 2 * np.pi * f / sr
        y = scipy.signal.lfilter([1.0 - r], [1.0, -2 * r * np.cos(theta), r * r], y)
    y = scipy.signal.lfilter([1.0], [1.0, -0.9], y)  # glottal/lip spectral tilt
    return (0.5 * y / np.max(np.abs(y))).astype(np.float32)
