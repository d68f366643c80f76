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
    "ROOT_FINDERS",
    "lpc_coefficients",
    "companion_roots",
    "envelope_peak_roots",
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
    if spectrum.dtype != np.complex64:
        return (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
    # float32 input: square the (re, im) pairs in place and add them, no temporaries.
    pairs = spectrum.view(np.float32).reshape(*spectrum.shape, 2)
    np.square(pairs, out=pairs)
    return np.add(pairs[..., 0], pairs[..., 1])


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
    # r(tau) = sum_{j<W} x_j x_{j+tau} for every frame at once (single-precision FFTs). With
    # tau <= max_lag, j + tau stays below L, so a circular correlation of length L never wraps.
    n_fft = scipy.fft.next_fast_len(length, real=True)
    head = scipy.fft.rfft(x[:, :window], n_fft)
    cross = scipy.fft.irfft(np.conj(head) * scipy.fft.rfft(x, n_fft), n_fft)[:, : max_lag + 1]
    # d(tau) = e(0..W) + e(tau..tau+W) - 2 r(tau). The sliding energy e(tau..tau+W) starts at
    # e(0..W) and changes by x[tau+W-1]^2 - x[tau-1]^2 per lag: a cumulative sum over the
    # max_lag lags instead of over all L samples.
    square = np.square(x)
    head_energy = square[:, :window].sum(axis=1, keepdims=True)
    diff = np.empty((x.shape[0], max_lag + 1), np.float32)
    diff[:, :1] = head_energy
    np.subtract(square[:, window : window + max_lag], square[:, :max_lag], out=diff[:, 1:])
    np.cumsum(diff, axis=1, out=diff)
    diff += head_energy
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


#: How :func:`lpc_formants` finds the roots of the LPC polynomial.
ROOT_FINDERS = ("companion", "envelope-peaks")
#: Newton steps smaller than this (in z) count as converged.
_NEWTON_TOL = 1e-7
_NEWTON_MAX_STEPS = 12


def lpc_coefficients(
    frames: np.ndarray, *, order: int, preemphasis: float
) -> tuple[np.ndarray, np.ndarray]:
    """Autocorrelation-method LPC of every frame (pre-emphasis, Hamming window, float64).

    Returns
    -------
    a : np.ndarray [shape=(n, order + 1)]
        ``A(z) = sum_k a[k] z^-k`` with ``a[:, 0] == 1``; all-pole frames that turned unstable
        are set to ``A(z) = 1``.
    stable : np.ndarray [shape=(n,), dtype=bool]
        False where the Levinson-Durbin recursion met a reflection coefficient ``|k| >= 1``.
    """
    p = order
    raw = np.asarray(frames, dtype=np.float64)
    x = np.empty_like(raw)  # pre-emphasis written in place: no concatenated copies
    x[:, 0] = raw[:, 0]
    np.multiply(raw[:, :-1], -preemphasis, out=x[:, 1:])
    x[:, 1:] += raw[:, 1:]
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
    return a, stable


def companion_roots(a: np.ndarray) -> np.ndarray:
    """All roots of ``z^p A(z)`` for every row of ``a`` (n, p + 1): eigenvalues, (n, p) complex."""
    n, p = a.shape[0], a.shape[1] - 1
    companion = np.zeros((n, p, p))
    companion[:, 0, :] = -a[:, 1:]
    companion[:, np.arange(1, p), np.arange(p - 1)] = 1.0
    return np.linalg.eigvals(companion)


def envelope_peak_roots(
    a: np.ndarray, *, sr: int, min_hz: float, max_hz: float, grid: int
) -> np.ndarray:
    """The roots of ``z^p A(z)`` that make the peaks of the LPC envelope ``1 / |A|``.

    ``|A(e^jw)|^2`` is evaluated on ``grid`` points around the circle; every local minimum
    between ``min_hz`` and ``max_hz`` (one bin of margin each side) seeds Newton's method at
    radius 0.95 and the minimum's parabolic-interpolated angle. A seed gives its root when
    Newton converges (step below 1e-7 within 12 steps) inside the unit circle and within 1.5
    grid bins of the seed's angle, and the root is not the one its lower neighbour found.
    Where several roots share a peak, or a root makes only a shoulder, the peak's root is found
    and the others are not: formants are the envelope's peaks. Costs a small fraction of
    :func:`companion_roots` (which finds all ``p`` roots with a dense eigen-solver).

    Returns
    -------
    roots : np.ndarray [shape=(n, k), dtype=complex]
        Upper-half-plane roots, lowest angle first, NaN-padded to the most any row has.
    """
    n, p = a.shape[0], a.shape[1] - 1
    spectrum = scipy.fft.rfft(a, grid, axis=1)
    power = spectrum.real**2 + spectrum.imag**2
    bin_hz = sr / grid
    lo = max(int(np.floor(min_hz / bin_hz)), 1)
    hi = min(int(np.ceil(max_hz / bin_hz)), power.shape[1] - 2)
    mid = power[:, lo : hi + 1]
    dip = (mid < power[:, lo - 1 : hi]) & (mid <= power[:, lo + 1 : hi + 2])
    rows, cols = np.nonzero(dip)  # row-major: each row's dips in frequency order
    k = cols + lo
    left = np.log(power[rows, k - 1])
    centre = np.log(power[rows, k])
    right = np.log(power[rows, k + 1])
    curvature = left - 2.0 * centre + right
    shift = np.where(curvature > 1e-12, 0.5 * (left - right) / np.maximum(curvature, 1e-12), 0.0)
    seed_angle = (k + np.clip(shift, -0.5, 0.5)) * (2.0 * np.pi / grid)
    z = 0.95 * np.exp(1j * seed_angle)
    coeffs = np.ascontiguousarray(a[rows].T)  # (p + 1, m): Horner reads whole rows
    converged = np.zeros(z.size, dtype=bool)
    todo = np.arange(z.size)
    z_todo, c_todo = z.copy(), coeffs
    for _ in range(_NEWTON_MAX_STEPS):
        value = np.ones_like(z_todo)  # Horner, in place: value = z^p A(z), slope = value'
        slope = np.zeros_like(z_todo)
        for j in range(1, p + 1):
            slope *= z_todo
            slope += value
            value *= z_todo
            value += c_todo[j]
        slope[slope == 0] = 1.0
        value /= slope  # the Newton step
        z_todo -= value
        z[todo] = z_todo
        done = np.abs(value) < _NEWTON_TOL
        converged[todo[done]] = True
        if done.all():
            break
        todo, z_todo, c_todo = todo[~done], z_todo[~done], c_todo[:, ~done]
    off_seed = np.abs(np.angle(z * np.exp(-1j * seed_angle)))
    keep = converged & (np.abs(z) < 1.0) & (off_seed < 1.5 * 2.0 * np.pi / grid)
    same_as_previous = np.zeros(z.size, dtype=bool)
    same_as_previous[1:] = (rows[1:] == rows[:-1]) & (np.abs(z[1:] - z[:-1]) < 1e-6)
    keep &= ~same_as_previous
    rows, z = rows[keep], z[keep]
    rank = np.arange(rows.size) - np.searchsorted(rows, rows)
    width = int(rank.max()) + 1 if rank.size else 1
    roots = np.full((n, width), np.nan, dtype=complex)
    roots[rows, rank] = z
    return roots


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
    root_finder: str = "companion",
    envelope_grid: int = 256,
) -> tuple[np.ndarray, np.ndarray]:
    """Formant frequencies and bandwidths (Hz) of every frame from LPC roots.

    LPC by :func:`lpc_coefficients`; the roots by ``root_finder``: ``"companion"`` (every
    root, :func:`companion_roots`) or ``"envelope-peaks"`` (the roots behind the envelope's
    peaks, :func:`envelope_peak_roots` on ``envelope_grid`` points; several times faster). A
    root with positive angle is a candidate when its frequency is in (``min_hz``, ``max_hz``)
    and its bandwidth ``-sr/pi ln|z|`` is below ``max_bandwidth_hz``; the lowest
    ``n_formants`` candidates are F1, F2, ... Frames that are not ``active`` (skipped: no work
    is spent on them) or whose recursion becomes unstable give NaN.

    Returns
    -------
    freqs, bandwidths : np.ndarray [shape=(n, n_formants)]
    """
    if root_finder not in ROOT_FINDERS:
        raise FeatureParameterError(f"root_finder={root_finder!r}: expected one of {ROOT_FINDERS}")
    n_frames = frames.shape[0]
    freqs = np.full((n_frames, n_formants), np.nan)
    bandwidths = np.full((n_frames, n_formants), np.nan)
    rows_active = np.flatnonzero(active)
    if rows_active.size == 0:
        return freqs, bandwidths
    a, stable = lpc_coefficients(frames[rows_active], order=order, preemphasis=preemphasis)
    if root_finder == "companion":
        roots = companion_roots(a)
    else:
        roots = envelope_peak_roots(a, sr=sr, min_hz=min_hz, max_hz=max_hz, grid=envelope_grid)
    found = ~np.isnan(roots)
    roots = np.where(found, roots, 0.0)
    freq = np.angle(roots) * sr / (2 * np.pi)
    bandwidth = -sr / np.pi * np.log(np.maximum(np.abs(roots), 1e-12))
    ok = (
        found
        & (roots.imag > 0)
        & (freq > min_hz)
        & (freq < min(max_hz, sr / 2 - 50))
        & (bandwidth < max_bandwidth_hz)
        & stable[:, None]
    )
    if ok.shape[1] < n_formants:  # fewer peaks than formants asked for: pad with "none"
        pad = ((0, 0), (0, n_formants - ok.shape[1]))
        ok, freq, bandwidth = np.pad(ok, pad), np.pad(freq, pad), np.pad(bandwidth, pad)
    order_idx = np.argsort(np.where(ok, freq, np.inf), axis=1)[:, :n_formants]
    rows = np.arange(a.shape[0])[:, None]
    picked = ok[rows, order_idx]
    freqs[rows_active] = np.where(picked, freq[rows, order_idx], np.nan)
    bandwidths[rows_active] = np.where(picked, bandwidth[rows, order_idx], np.nan)
    return freqs, bandwidths
