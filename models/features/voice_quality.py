"""Voice-quality, spectral-balance and rhythm descriptors of one clip, written by us.

The paper's 43 low-level descriptors (:mod:`models.features.voice`) say little about how a voice
is produced. These clip-level values add what emotion research measures for it (the eGeMAPS
parameter families, computed by our own code: openSMILE's licence is non-commercial):

- **jitter** and **shimmer** (local): the mean absolute difference between consecutive glottal
  periods (peak amplitudes), relative to their mean, over the cycles of each voiced run;
- **harmonics-to-noise ratio** (dB): ``10 log10(r / (1 - r))`` with ``r`` the normalised
  autocorrelation of a voiced frame at its pitch period (mean and standard deviation);
- **formant bandwidths** B1-B3 (Hz, LPC roots; mean over voiced frames);
- **spectral slope** 0-500 Hz and 500-1500 Hz (dB per kHz, least squares on the dB spectrum),
  **alpha ratio** (dB, energy 50-1000 Hz over 1-5 kHz) and **Hammarberg index** (dB, strongest
  bin 0-2 kHz over strongest 2-5 kHz), over voiced frames, the last two also over unvoiced ones;
- **loudness contour**: 20th, 50th and 80th percentiles of the active frames' level (dB re the
  clip's loud level), their 20-80 range, the mean rise and fall (dB/s) and level peaks per
  second;
- **pitch contour**: 20th, 50th, 80th percentiles of F0 (semitones re 27.5 Hz) and their range;
- **rhythm**: voiced runs per second, mean voiced and unvoiced run length (s).

Undefined values (no voiced frame, a single cycle) are 0. Every function takes arrays the voice
framing already has, so serving pays for no second FFT or pitch track.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "QUALITY_NAMES",
    "N_QUALITY",
    "glottal_cycles",
    "jitter_shimmer",
    "harmonics_to_noise_db",
    "spectral_slope_db_per_khz",
    "alpha_ratio_db",
    "hammarberg_db",
    "voice_quality",
]

QUALITY_NAMES: tuple[str, ...] = (
    "jitter_local",
    "shimmer_local",
    "hnr_db_mean",
    "hnr_db_std",
    "f1_bandwidth_hz",
    "f2_bandwidth_hz",
    "f3_bandwidth_hz",
    "slope_0_500_db_per_khz",
    "slope_500_1500_db_per_khz",
    "alpha_ratio_voiced_db",
    "alpha_ratio_unvoiced_db",
    "hammarberg_voiced_db",
    "hammarberg_unvoiced_db",
    "loudness_p20_db",
    "loudness_p50_db",
    "loudness_p80_db",
    "loudness_range_db",
    "loudness_rise_db_per_s",
    "loudness_fall_db_per_s",
    "loudness_peaks_per_s",
    "f0_p20_st",
    "f0_p50_st",
    "f0_p80_st",
    "f0_range_st",
    "voiced_runs_per_s",
    "voiced_run_s",
    "unvoiced_run_s",
)
N_QUALITY = len(QUALITY_NAMES)
_EPS = 1e-12


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[start, stop)`` of every run of True in ``mask``."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def glottal_cycles(y: np.ndarray, period: float) -> np.ndarray:
    """Sample positions of the cycle peaks of a voiced stretch ``y`` whose period is about
    ``period`` samples: the largest sample of the first period, then of each window
    ``[0.8, 1.2]`` periods after the previous peak."""
    period = float(period)
    if period < 2 or y.size < 2 * period:
        return np.zeros(0, np.int64)
    peaks = [int(np.argmax(y[: int(period)]))]
    while True:
        lo, hi = peaks[-1] + int(0.8 * period), peaks[-1] + int(np.ceil(1.2 * period)) + 1
        if hi > y.size:
            return np.asarray(peaks, np.int64)
        peaks.append(lo + int(np.argmax(y[lo:hi])))


def jitter_shimmer(
    y: np.ndarray, f0: np.ndarray, *, sr: int, hop_length: int
) -> tuple[float, float]:
    """Local jitter and shimmer (relative) over the cycles of every voiced run of ``f0`` (one
    value per frame of ``hop_length`` samples; NaN = unvoiced). 0 when there are fewer than three
    cycles."""
    period_diffs, periods, amp_diffs, amps = [], [], [], []
    for start, stop in _runs(~np.isnan(f0)):
        segment = y[start * hop_length : stop * hop_length]
        peaks = glottal_cycles(segment, sr / float(np.median(f0[start:stop])))  # a voiced run
        if peaks.size < 3:
            continue
        p, a = np.diff(peaks).astype(np.float64), np.abs(segment[peaks]).astype(np.float64)
        period_diffs.append(np.abs(np.diff(p)))
        periods.append(p)
        amp_diffs.append(np.abs(np.diff(a)))
        amps.append(a)
    if not periods:
        return 0.0, 0.0
    jitter = np.concatenate(period_diffs).mean() / np.concatenate(periods).mean()
    shimmer = np.concatenate(amp_diffs).mean() / max(np.concatenate(amps).mean(), _EPS)
    return float(jitter), float(shimmer)


def harmonics_to_noise_db(frames: np.ndarray, f0: np.ndarray, *, sr: int) -> np.ndarray:
    """HNR (dB) of each voiced frame (NaN elsewhere): the normalised autocorrelation ``r`` at
    the pitch period (best lag within +-2 samples), as ``10 log10(r / (1 - r))``, clipped to
    [-20, 40] dB."""
    out = np.full(frames.shape[0], np.nan)
    rows = np.flatnonzero(~np.isnan(f0))
    if rows.size == 0:
        return out
    x = frames[rows].astype(np.float64)
    x -= x.mean(axis=1, keepdims=True)
    n = x.shape[1]
    spectrum = np.fft.rfft(x, n=2 * n, axis=1)
    autocorr = np.fft.irfft(spectrum.real**2 + spectrum.imag**2, n=2 * n, axis=1)[:, :n]
    squares = np.concatenate([np.zeros((rows.size, 1)), np.cumsum(x**2, axis=1)], axis=1)
    total = squares[:, -1:]
    base = np.rint(sr / f0[rows]).astype(np.int64)
    lags = np.clip(base[:, None] + np.arange(-2, 3)[None, :], 1, n - 2)
    index = np.arange(rows.size)[:, None]
    head = squares[index, n - lags]  # energy of x[:n - lag]
    tail = total - squares[index, lags]  # energy of x[lag:]
    r = autocorr[index, lags] / np.sqrt(np.maximum(head * tail, _EPS))
    r = np.clip(r.max(axis=1), 1e-2, 1 - 1e-4)
    out[rows] = np.clip(10 * np.log10(r / (1 - r)), -20.0, 40.0)
    return out


def _band(hz: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return (hz >= lo) & (hz < hi)


def spectral_slope_db_per_khz(
    power: np.ndarray, hz: np.ndarray, lo: float, hi: float
) -> np.ndarray:
    """Least-squares slope of each frame's dB spectrum between ``lo`` and ``hi`` Hz (dB/kHz)."""
    band = _band(hz, lo, hi)
    khz = hz[band] / 1000.0
    db = 10 * np.log10(power[:, band] + _EPS)
    centred = khz - khz.mean()
    return (db - db.mean(axis=1, keepdims=True)) @ centred / float(centred @ centred)


def alpha_ratio_db(power: np.ndarray, hz: np.ndarray) -> np.ndarray:
    """Energy 50-1000 Hz over energy 1-5 kHz of each frame (dB)."""
    low = power[:, _band(hz, 50.0, 1000.0)].sum(axis=1)
    high = power[:, _band(hz, 1000.0, 5000.0)].sum(axis=1)
    return 10 * np.log10((low + _EPS) / (high + _EPS))


def hammarberg_db(power: np.ndarray, hz: np.ndarray) -> np.ndarray:
    """Strongest bin 0-2 kHz over strongest bin 2-5 kHz of each frame (dB)."""
    low = power[:, _band(hz, 0.0, 2000.0)].max(axis=1)
    high = power[:, _band(hz, 2000.0, 5000.0)].max(axis=1)
    return 10 * np.log10((low + _EPS) / (high + _EPS))


def _mean(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else 0.0


def _std(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(values.std()) if values.size else 0.0


def _percentiles(values: np.ndarray, qs=(20, 50, 80)) -> list[float]:
    values = values[np.isfinite(values)]
    return [float(v) for v in np.percentile(values, qs)] if values.size else [0.0] * len(qs)


def _loudness_contour(level: np.ndarray, active: np.ndarray, hop_s: float) -> list[float]:
    if not active.any():
        return [0.0] * 7
    relative = level - np.percentile(level, 95)
    p20, p50, p80 = _percentiles(np.where(active, relative, np.nan))
    smooth = np.convolve(np.maximum(relative, -60.0), np.ones(5) / 5, mode="same")
    slope = np.diff(smooth) / hop_s
    rise, fall = slope[slope > 0], slope[slope < 0]
    # A peak: a local maximum of the smoothed level, at least 6 dB above the lowest level
    # since the previous peak.
    peaks, floor = 0, np.inf
    for i in range(1, smooth.size - 1):
        floor = min(floor, smooth[i])
        if smooth[i] >= smooth[i - 1] and smooth[i] > smooth[i + 1] and smooth[i] - floor >= 6:
            peaks, floor = peaks + 1, np.inf
    seconds = level.size * hop_s
    return [
        p20, p50, p80, p80 - p20,
        float(rise.mean()) if rise.size else 0.0,
        float(-fall.mean()) if fall.size else 0.0,
        peaks / seconds,
    ]  # fmt: skip


def voice_quality(
    *,
    y: np.ndarray,
    sr: int,
    hop_length: int,
    frames: np.ndarray,
    power: np.ndarray,
    level: np.ndarray,
    active: np.ndarray,
    f0: np.ndarray,
    bandwidths: np.ndarray,
) -> np.ndarray:
    """The :data:`QUALITY_NAMES` of one clip (float32), from its framing.

    Parameters
    ----------
    y : the clip (mono, ``sr``); frames, power, level, active, f0 : per frame of ``hop_length``
        samples (power: ``(n_frames, n_bins)`` covering 0 to ``sr / 2``); bandwidths :
        ``(n_frames, 3)`` formant bandwidths (NaN where not measured).
    """
    voiced = ~np.isnan(f0)
    unvoiced = active & ~voiced
    hz = np.linspace(0.0, sr / 2, power.shape[1])
    jitter, shimmer = jitter_shimmer(y, f0, sr=sr, hop_length=hop_length)
    hnr = harmonics_to_noise_db(frames, f0, sr=sr)
    alpha, hammarberg = alpha_ratio_db(power, hz), hammarberg_db(power, hz)
    voiced_power = power[voiced]
    slopes = [
        _mean(spectral_slope_db_per_khz(voiced_power, hz, lo, hi)) if voiced.any() else 0.0
        for lo, hi in ((0.0, 500.0), (500.0, 1500.0))
    ]
    semitones = 12 * np.log2(np.where(voiced, f0, np.nan) / 27.5)
    f0_p = _percentiles(semitones)
    hop_s = hop_length / sr
    voiced_runs = _runs(voiced)
    unvoiced_runs = _runs(~voiced & active)
    values = [
        jitter, shimmer, _mean(hnr), _std(hnr),
        *(_mean(bandwidths[:, k]) for k in range(3)),
        *slopes,
        _mean(alpha[voiced]), _mean(alpha[unvoiced]),
        _mean(hammarberg[voiced]), _mean(hammarberg[unvoiced]),
        *_loudness_contour(level, active, hop_s),
        *f0_p, f0_p[2] - f0_p[0],
        len(voiced_runs) / (level.size * hop_s),
        float(np.mean([b - a for a, b in voiced_runs])) * hop_s if voiced_runs else 0.0,
        float(np.mean([b - a for a, b in unvoiced_runs])) * hop_s if unvoiced_runs else 0.0,
    ]  # fmt: skip
    return np.asarray(values, dtype=np.float32)
