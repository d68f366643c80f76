"""Source-filter vowels of known formants (the truth formant estimators are checked against),
and :func:`syllables`, a seeded speech-like signal the speech rule must accept."""

from __future__ import annotations

import numpy as np
import scipy.signal

__all__ = ["vowel", "syllables"]


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


#: (F1, F2, F3) of the vowels :func:`syllables` cycles through (Peterson & Barney-like values).
_SYLLABLE_VOWELS = ((730.0, 1090.0, 2440.0), (270.0, 2290.0, 3010.0), (300.0, 870.0, 2240.0))


def syllables(
    *, f0: float = 140.0, sr: int = 16000, seconds: float = 3.0, seed: int = 0
) -> np.ndarray:
    """Speech-like audio: fricative (4-7 kHz noise, 80 ms) + vowel (180 ms) syllables, with a
    pause of 120 ms after every second syllable, and a little room noise (-70 dBFS).

    It has what the speech rule looks for in speech and a held note or steady music lacks:
    voicing that alternates with unvoiced frames and with silence."""
    rng = np.random.default_rng(seed)
    out: list[np.ndarray] = []
    b, a = scipy.signal.butter(4, [4000.0, min(7000.0, 0.45 * sr)], btype="band", fs=sr)
    k = 0
    while sum(x.size for x in out) < sr * seconds:
        fricative = scipy.signal.lfilter(b, a, rng.standard_normal(int(0.08 * sr)))
        out.append((0.15 * fricative / np.max(np.abs(fricative))).astype(np.float32))
        pitch = f0 * (1.0 + 0.1 * rng.uniform(-1.0, 1.0))
        out.append(
            vowel(_SYLLABLE_VOWELS[k % 3], (90.0, 110.0, 160.0), f0=pitch, sr=sr, seconds=0.18)
        )
        if k % 2:
            out.append(np.zeros(int(0.12 * sr), np.float32))
        k += 1
    y = np.concatenate(out)[: int(sr * seconds)]
    return (y + 10 ** (-70 / 20) * rng.standard_normal(y.size)).astype(np.float32)
