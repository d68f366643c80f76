"""Vectorised frame-level signal analyses shared by the music and voice features.

Every function works on all frames at once (numpy broadcasting, batched FFTs and eigenvalues),
never looping over frames or samples. Parameters are explicit; the feature modules hold the
choices.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.fft
from numpy.lib.stride_tricks import sliding_window_view

from models.exceptions import FeatureParameterError

__all__ = [
    "LOG_FLOOR",
    "BLOCK_FRAMES",
    "blockwise",
    "frame_signal",
    "segment_index",
    "gather",
    "nan_stats",
    "nan_stats_mean",
    "mel_basis",
    "paper_dct",
    "deltas",
    "power_spectrum",
    "frame_rms_dbfs",
    "yin_f0",
    "lpc_formants",
]

LOG_FLOOR = 1e-10
#: Frame-level analyses run on blocks of this many frames, so their temporaries (spectra,
#: difference functions, companion matrices) stay a few MB however long the track is.
BLOCK_FRAMES = 4096


def blockwise(fn, frames: np.ndarray, *per_frame: np.ndarray, block: int = BLOCK_FRAMES):
    """Apply ``fn(frames_block, *per_frame_blocks)`` block by block; concatenate the results.

    ``fn`` returns an array or a tuple of arrays, each with one row per frame.
    """
    outs = [
        fn(frames[i : i + block], *(a[i : i + block] for a in per_frame))
        for i in range(0, frames.shape[0], block)
    ]
    if isinstance(outs[0], tuple):
        return tuple(np.concatenate(parts) for parts in zip(*outs, strict=True))
    return np.concatenate(outs)


def frame_signal(y: np.ndarray, frame_length: int, hop_length: int) -> np.ndarray:
    """(n_frames, frame_length) view of ``y``; zero-padded so every sample lies in a frame."""
    n = max(y.size, frame_length)
    n_frames = 1 + int(np.ceil((n - frame_length) / hop_length))
    total = (n_frames - 1) * hop_length + frame_length
    if total > y.size:
        y = np.concatenate([y, np.zeros(total - y.size, dtype=y.dtype)])
    return sliding_window_view(y, frame_length)[::hop_length]


def segment_index(n_frames: int, hop_s: float, n_segments: int, segment_s: float) -> np.ndarray:
    """(n_segments, max_len) indices of the frames starting in each segment, -1 as padding.

    Frame ``f`` starts at ``f * hop_s`` seconds and belongs to segment ``start // segment_s``;
    frames past the last segment are left out.
    """
    starts = np.arange(n_frames) * hop_s
    seg_of = np.minimum((starts // segment_s).astype(np.int64), n_segments)
    counts = np.bincount(seg_of, minlength=n_segments + 1)[:n_segments]
    max_len = max(int(counts.max()), 1) if n_segments else 1
    index = np.full((n_segments, max_len), -1, dtype=np.int64)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    for s in range(n_segments):  # one row per segment: ~80 for a 4-minute track
        index[s, : counts[s]] = np.arange(first[s], first[s] + counts[s])
    return index


def gather(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """values (n_frames, ...) -> float64 (n_segments, max_len, ...) with NaN where index is -1."""
    out = values[np.maximum(index, 0)].astype(np.float64)
    out[index < 0] = np.nan
    return out


def nan_stats(x: np.ndarray, quantiles: tuple[float, ...] = ()) -> dict[str, np.ndarray]:
    """Per-row mean, std, min, max (and ``q<q>`` quantiles) of x (n, m), ignoring NaN.

    Rows without any value give 0 for every statistic.
    """
    valid = ~np.isnan(x)
    count = valid.sum(axis=1)
    has = count > 0
    filled = np.where(valid, x, 0.0)
    safe = np.maximum(count, 1)
    mean = filled.sum(axis=1) / safe
    var = np.where(valid, (x - mean[:, None]) ** 2, 0.0).sum(axis=1) / safe
    stats = {
        "mean": np.where(has, mean, 0.0),
        "std": np.where(has, np.sqrt(var), 0.0),
        "min": np.where(has, np.where(valid, x, np.inf).min(axis=1), 0.0),
        "max": np.where(has, np.where(valid, x, -np.inf).max(axis=1), 0.0),
    }
    if quantiles:
        ordered = np.sort(np.where(valid, x, np.inf), axis=1)
        rows = np.arange(x.shape[0])
        for q in quantiles:
            pos = q * (safe - 1)
            lo = np.floor(pos).astype(np.int64)
            hi = np.minimum(lo + 1, safe - 1)
            frac = pos - lo
            with np.errstate(invalid="ignore"):  # empty rows hold inf - inf; masked below
                value = ordered[rows, lo] + frac * (ordered[rows, hi] - ordered[rows, lo])
            stats[f"q{q:g}"] = np.where(has, value, 0.0)
    return stats


def nan_stats_mean(x: np.ndarray) -> np.ndarray:
    """Mean over axis 1 of x (n, m, ...) ignoring NaN; all-NaN rows give 0."""
    valid = ~np.isnan(x)
    return np.where(valid, x, 0.0).sum(axis=1) / np.maximum(valid.sum(axis=1), 1)


@lru_cache(maxsize=8)
def mel_basis(sr: int, n_fft: int, n_mels: int) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) HTK mel filterbank from 0 Hz to Nyquist (librosa's)."""
    import librosa

    basis = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=0.0, fmax=sr / 2, htk=True)
    return basis.astype(np.float32)


@lru_cache(maxsize=8)
def paper_dct(n_mels: int, n_mfcc: int) -> np.ndarray:
    """The paper's DCT: ``C[i, j] = sqrt(2/N) cos(i (j - 0.5) pi / N)``, i = 1..n_mfcc, j = 1..N."""
    i = np.arange(1, n_mfcc + 1)[:, None]
    j = np.arange(1, n_mels + 1)[None, :]
    return (np.sqrt(2.0 / n_mels) * np.cos(i * (j - 0.5) * np.pi / n_mels)).astype(np.float32)


def deltas(x: np.ndarray, width: int) -> np.ndarray:
    """Regression deltas of x (n_frames, d) over +-``width`` frames (edges repeated)."""
    padded = np.pad(x, ((width, width), (0, 0)), mode="edge")
    n = x.shape[0]
    num = sum(
        k * (padded[width + k : width + k + n] - padded[width - k : width - k + n])
        for k in range(1, width + 1)
    )
    return num / (2 * sum(k * k for k in range(1, width + 1)))


def power_spectrum(frames: np.ndarray, window: np.ndarray, n_fft: int | None = None) -> np.ndarray:
    """|rfft(frames * window)|^2 as float32, shape (n_frames, n_fft // 2 + 1)."""
    spectrum = scipy.fft.rfft(frames * window, n=n_fft, axis=1)
    return (spectrum.real**2 + spectrum.imag**2).astype(np.float32)


def frame_rms_dbfs(frames: np.ndarray) -> np.ndarray:
    """RMS level of each frame in dB re full scale (silence: -240 dB)."""
    rms = np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1))
    return 20.0 * np.log10(np.maximum(rms, 1e-12))


def yin_f0(
    frames: np.ndarray,
    *,
    sr: int,
    fmin_hz: float,
    fmax_hz: float,
    threshold: float,
    active: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """YIN-style F0 of every frame.

    Parameters
    ----------
    frames : np.ndarray [shape=(n, L)]
        Analysis frames at ``sr`` Hz; ``L`` must exceed 1.5 periods of ``fmin_hz``.
    active : np.ndarray [shape=(n,), dtype=bool]
        Frames loud enough to be voiced at all.

    Returns
    -------
    f0 : np.ndarray [shape=(n,)]
        Hz; NaN where the frame is unvoiced (no dip of the normalised difference below
        ``threshold`` in the search range, or not ``active``).
    periodicity : np.ndarray [shape=(n,)]
        ``1 - min(cmnd)`` over the search range, in [0, 1]: a voicing probability.
    """
    max_lag = int(np.ceil(sr / fmin_hz))
    min_lag = max(int(np.floor(sr / fmax_hz)), 2)
    length = frames.shape[1]
    window = length - max_lag
    if window <= max_lag // 2:
        raise FeatureParameterError(
            f"frames of {length} samples are too short for fmin_hz={fmin_hz} at {sr} Hz"
        )
    x = np.ascontiguousarray(frames, dtype=np.float32)
    n_fft = scipy.fft.next_fast_len(length + window, real=True)
    # r(tau) = sum_{j<W} x_j x_{j+tau} for every frame at once (single-precision FFTs).
    head = scipy.fft.rfft(x[:, :window], n_fft)
    cross = scipy.fft.irfft(np.conj(head) * scipy.fft.rfft(x, n_fft), n_fft)[:, : max_lag + 1]
    energy = np.cumsum(np.square(x), axis=1, dtype=np.float32)
    energy = np.concatenate([np.zeros((x.shape[0], 1), np.float32), energy], axis=1)
    # d(tau) = e(0..W) + e(tau..tau+W) - 2 r(tau), via slices of the cumulative energy.
    diff = energy[:, window : window + max_lag + 1] - energy[:, : max_lag + 1]
    diff += energy[:, [window]]
    diff -= 2.0 * cross
    np.maximum(diff, 0.0, out=diff)
    taus = np.arange(max_lag + 1, dtype=np.float32)
    cmnd = np.empty_like(diff)
    cmnd[:, 0] = 1.0
    cmnd[:, 1:] = diff[:, 1:] * taus[1:] / np.maximum(np.cumsum(diff[:, 1:], axis=1), 1e-12)
    search = cmnd[:, min_lag : max_lag + 1]
    below = search < threshold
    voiced = below.any(axis=1) & active
    first = np.argmax(below, axis=1)
    # Follow the first dip below the threshold down to its local minimum.
    rising = np.concatenate(
        [search[:, 1:] >= search[:, :-1], np.ones((search.shape[0], 1), bool)], axis=1
    )
    rising &= np.arange(search.shape[1])[None, :] >= first[:, None]
    best = np.argmax(rising, axis=1) + min_lag
    rows = np.arange(x.shape[0])
    left = cmnd[rows, np.maximum(best - 1, 1)]
    mid = cmnd[rows, best]
    right = cmnd[rows, np.minimum(best + 1, max_lag)]
    curvature = left - 2.0 * mid + right
    safe_curvature = np.where(np.abs(curvature) > 1e-12, curvature, 1.0)
    shift = np.where(np.abs(curvature) > 1e-12, 0.5 * (left - right) / safe_curvature, 0.0)
    lag = best + np.clip(shift, -1.0, 1.0)
    periodicity = np.clip(1.0 - search.min(axis=1), 0.0, 1.0) * active
    return np.where(voiced, sr / lag, np.nan), periodicity


def lpc_formants(
    frames: np.ndarray,
    *,
    sr: int,
    order: int,
    preemphasis: float,
    min_hz: float,
    max_hz: float,
    max_bandwidth_hz: float,
    active: np.ndarray,
    n_formants: int = 3,
) -> tuple[np.ndarray, np.ndarray]:
    """Formant frequencies and bandwidths (Hz) of every frame from LPC roots.

    Pre-emphasis, Hamming window, autocorrelation-method LPC (Levinson-Durbin in float64,
    vectorised over frames), roots as eigenvalues of the batched companion matrices. A root
    with positive angle is a candidate when its frequency is in (``min_hz``, ``max_hz``) and its
    bandwidth ``-sr/pi ln|z|`` is below ``max_bandwidth_hz``; the lowest ``n_formants``
    candidates are F1, F2, ... Frames that are not ``active`` (skipped: no work is spent on
    them) or whose recursion becomes unstable give NaN.

    Returns
    -------
    freqs, bandwidths : np.ndarray [shape=(n, n_formants)]
    """
    n_frames = frames.shape[0]
    freqs = np.full((n_frames, n_formants), np.nan)
    bandwidths = np.full((n_frames, n_formants), np.nan)
    rows_active = np.flatnonzero(active)
    if rows_active.size == 0:
        return freqs, bandwidths
    p = order
    x = np.asarray(frames[rows_active], dtype=np.float64)
    x = np.concatenate([x[:, :1], x[:, 1:] - preemphasis * x[:, :-1]], axis=1)
    x *= np.hamming(x.shape[1])
    # Only lags 0..p are needed: p + 1 direct products beat an FFT of every frame.
    length = x.shape[1]
    r = np.stack(
        [np.einsum("ij,ij->i", x[:, : length - k], x[:, k:]) for k in range(p + 1)], axis=1
    )
    r[:, 0] = r[:, 0] * (1.0 + 1e-9) + 1e-12  # white-noise correction keeps Levinson stable
    a = np.zeros((x.shape[0], p + 1))
    a[:, 0] = 1.0
    err = r[:, 0].copy()
    stable = np.ones(x.shape[0], dtype=bool)
    for i in range(1, p + 1):
        acc = r[:, i] + (a[:, 1:i] * r[:, i - 1 : 0 : -1]).sum(axis=1)
        k = -acc / err
        stable &= np.abs(k) < 1.0
        k = np.clip(k, -0.9999, 0.9999)  # an unstable frame is dropped below, not propagated
        a[:, 1:i] = a[:, 1:i] + k[:, None] * a[:, i - 1 : 0 : -1]
        a[:, i] = k
        err = np.maximum(err * (1.0 - k * k), 1e-15)
    stable &= np.all(np.isfinite(a), axis=1)
    a[~stable] = 0.0
    a[~stable, 0] = 1.0
    companion = np.zeros((x.shape[0], p, p))
    companion[:, 0, :] = -a[:, 1:]
    companion[:, np.arange(1, p), np.arange(p - 1)] = 1.0
    roots = np.linalg.eigvals(companion)
    freq = np.angle(roots) * sr / (2 * np.pi)
    bandwidth = -sr / np.pi * np.log(np.maximum(np.abs(roots), 1e-12))
    ok = (
        (roots.imag > 0)
        & (freq > min_hz)
        & (freq < min(max_hz, sr / 2 - 50))
        & (bandwidth < max_bandwidth_hz)
        & stable[:, None]
    )
    order_idx = np.argsort(np.where(ok, freq, np.inf), axis=1)[:, :n_formants]
    rows = np.arange(x.shape[0])[:, None]
    picked = ok[rows, order_idx]
    freqs[rows_active] = np.where(picked, freq[rows, order_idx], np.nan)
    bandwidths[rows_active] = np.where(picked, bandwidth[rows, order_idx], np.nan)
    return freqs, bandwidths
