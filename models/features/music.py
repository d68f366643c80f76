"""The paper's 62-dim music segment features (PAPER.md section 3).

A track is cut into 3 s segments; each segment gives one 62-dim vector, in this order:

======  =====  ==================================================================
dims    group  content
======  =====  ==================================================================
0-13    MFCC   mean over the segment's frames of MFCC 1..14
14-27   MFCC   mean absolute first-order delta of MFCC 1..14
28-35   pitch  F0 max, min, mean, range, std, median, upper and lower quartile (Hz)
36-47   form.  F1, F2, F3 (Hz): mean, std, median, mean bandwidth; F1 first
48-55   band   log energy (dB) of the 8 bands of 500 Hz between 0 and 4000 Hz
56-61   rhythm beat histogram: 1st peak amplitude, 1st peak period (s), 2nd peak
               amplitude, 2nd peak period (s), 2nd/1st amplitude ratio, histogram total
======  =====  ==================================================================

Choices the paper leaves open (each is part of :attr:`MusicFeatureSpec.version`):

- **Rates and frames.** Analysis at 22 050 Hz; frames of 512 samples (23.2 ms), hop 256,
  Hann window. Pitch and formants run on a 11 025 Hz copy, frames of 512 (46 ms), hop 256.
  A frame belongs to the segment in which it starts.
- **Segments.** ``floor(duration / 3 s)`` full segments; a final partial segment is kept when
  it is at least 1.5 s long (it is dropped otherwise). A track shorter than 3 s gives exactly
  one (partial) segment.
- **MFCC.** 40 mel bands (HTK formula, 0 Hz to Nyquist) on the power spectrum, natural log
  with a floor of 1e-10, and the paper's DCT ``sqrt(2/N) sum_j log E_j cos(i (j - 0.5) pi / N)``
  for i = 1..14 (c0 is left out: loudness is carried by the band energies). The segment
  statistic is the mean. For the deltas (regression over +-2 frames) the mean is close to zero
  by construction, so the segment statistic is the **mean absolute** delta: how fast the
  timbre moves.
- **Pitch.** A YIN-style estimator: cumulative-mean-normalised difference function (computed
  with FFTs for all frames at once), search range 60-1000 Hz, the first dip below 0.15 followed
  to its local minimum, parabolic interpolation. A frame is **voiced** when such a dip exists
  and the frame's RMS is above -60 dBFS. Statistics are over voiced frames; a segment without
  voiced frames gets zeros for all eight.
- **Formants.** On every other pitch frame (512 samples, hop 512: 46 ms, no overlap).
  Pre-emphasis 0.9, Hamming window, LPC of order 14 by the autocorrelation
  method (Levinson-Durbin, float64; frames whose recursion turns unstable give none), roots of the LPC polynomial with positive angle; a root is a formant
  candidate when its frequency is between 90 Hz and 5 000 Hz and its bandwidth
  ``-fs/pi ln|z|`` is below 400 Hz; F1-F3 are the three lowest candidates. Frames below
  -60 dBFS give none. A segment with no F_k gets zeros for that formant's four values.
  Order and pre-emphasis were chosen on source-filter vowels (/a/, /e/, /i/, /u/ at F0 100-130
  Hz): largest F1-F3 error 8 % (mean 2.9 %), against 13 % (5 %) with the textbook 0.97 / 12.
- **Band energy.** Per frame, the power-spectrum energy summed over the bins of each band;
  the segment value is ``10 log10(mean + 1e-10)`` (dB re full scale of the windowed frame).
- **Rhythm.** Onset strength = half-wave rectified frame-to-frame increase of the log-mel
  spectrum, summed over bands (86 frames/s), smoothed with a 5-frame Hann window. The beat histogram of a segment is its
  autocorrelation (mean removed, normalised by lag 0) over lags of 0.25-1.5 s (240-40 BPM);
  the two highest local maxima are the peaks (parabolic interpolation of their lag); the total
  is the sum of the positive histogram values. No peaks give zeros.
- **Edge cases.** The track's DC offset is removed first; samples are clipped to [-1, 1]. Silence
  gives finite values: band energies and MFCCs at the log floor, zeros elsewhere.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np
import scipy.fft
import soxr
from numpy.lib.stride_tricks import sliding_window_view

from models.audio import validate_audio
from models.exceptions import FeatureParameterError

__all__ = [
    "MusicFeatureSpec",
    "DEFAULT_SPEC",
    "FEATURE_GROUPS",
    "N_FEATURES",
    "segment_features",
    "mfcc_segment_features",
    "n_segments_for",
]

#: (group name, width) in column order.
FEATURE_GROUPS: tuple[tuple[str, int], ...] = (
    ("mfcc", 14),
    ("mfcc_delta", 14),
    ("pitch", 8),
    ("formant", 12),
    ("band_energy", 8),
    ("rhythm", 6),
)
N_FEATURES = sum(width for _, width in FEATURE_GROUPS)
_LOG_FLOOR = 1e-10
#: Onset peaks are one frame wide; a 5-frame Hann smoothing lets beats whose period is not a
#: whole number of frames line up in the autocorrelation (without it, 150 BPM reads as 75).
_ONSET_SMOOTHING = np.hanning(7)[1:-1] / np.hanning(7)[1:-1].sum()


@dataclass(frozen=True)
class MusicFeatureSpec:
    """Every parameter of the extractor; :attr:`version` changes when any of them does."""

    sr: int = 22050
    frame_length: int = 512
    hop_length: int = 256
    segment_s: float = 3.0
    min_last_segment_s: float = 1.5
    n_mels: int = 40
    n_mfcc: int = 14
    delta_width: int = 2
    low_sr: int = 11025
    low_frame_length: int = 512
    low_hop_length: int = 256
    fmin_hz: float = 60.0
    fmax_hz: float = 1000.0
    yin_threshold: float = 0.15
    silence_dbfs: float = -60.0
    lpc_order: int = 14
    formant_hop_length: int = 512
    """Formant frames do not overlap (46 ms hop at 11 025 Hz): half the cost of the pitch grid."""
    preemphasis: float = 0.9
    formant_min_hz: float = 90.0
    formant_max_hz: float = 5000.0
    formant_max_bandwidth_hz: float = 400.0
    band_width_hz: float = 500.0
    n_bands: int = 8
    beat_min_s: float = 0.25
    beat_max_s: float = 1.5
    revision: int = 2
    """Bumped by hand when the code changes a choice that no parameter above captures."""

    @property
    def version(self) -> str:
        """``music62-<hash>``: stored with every feature matrix and every model trained on them."""
        digest = hashlib.sha1(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()
        return f"music62-{digest[:10]}"


DEFAULT_SPEC = MusicFeatureSpec()


# --------------------------------------------------------------------------- framing helpers


def _frame(y: np.ndarray, frame_length: int, hop_length: int) -> np.ndarray:
    """(n_frames, frame_length) view; the signal is zero-padded so every sample is in a frame."""
    n = max(y.size, frame_length)
    n_frames = 1 + int(np.ceil((n - frame_length) / hop_length))
    total = (n_frames - 1) * hop_length + frame_length
    if total > y.size:
        y = np.concatenate([y, np.zeros(total - y.size, dtype=y.dtype)])
    return sliding_window_view(y, frame_length)[::hop_length]


def n_segments_for(n_samples: int, *, spec: MusicFeatureSpec = DEFAULT_SPEC) -> int:
    """Number of segments of a signal of ``n_samples`` at ``spec.sr`` (the documented rule)."""
    duration = n_samples / spec.sr
    n_full = int(duration // spec.segment_s)
    remainder = duration - n_full * spec.segment_s
    if n_full == 0 or remainder >= spec.min_last_segment_s:
        return n_full + 1
    return n_full


def _segment_index(n_frames: int, hop_s: float, n_segments: int, segment_s: float) -> np.ndarray:
    """(n_segments, max_len) frame indices per segment, -1 where a segment has fewer frames."""
    starts = np.arange(n_frames) * hop_s
    seg_of = np.minimum((starts // segment_s).astype(np.int64), n_segments)
    counts = np.bincount(seg_of, minlength=n_segments + 1)[:n_segments]
    max_len = max(int(counts.max()), 1)
    index = np.full((n_segments, max_len), -1, dtype=np.int64)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    for s in range(n_segments):  # n_segments is ~80 for a 4-minute track
        index[s, : counts[s]] = np.arange(first[s], first[s] + counts[s])
    return index


def _gather(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """values (n_frames, ...) -> (n_segments, max_len, ...) with NaN where index is -1."""
    out = values[np.maximum(index, 0)].astype(np.float64)
    out[index < 0] = np.nan
    return out


def _nan_stats(x: np.ndarray, quantiles: tuple[float, ...] = ()) -> dict[str, np.ndarray]:
    """Per-row statistics of x (n, m) ignoring NaN; rows without values give 0 everywhere."""
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


@lru_cache(maxsize=8)
def _mel_basis(sr: int, n_fft: int, n_mels: int) -> np.ndarray:
    import librosa

    return librosa.filters.mel(
        sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=0.0, fmax=sr / 2, htk=True
    ).astype(np.float32)


@lru_cache(maxsize=8)
def _dct_matrix(n_mels: int, n_mfcc: int) -> np.ndarray:
    """The paper's DCT: C[i, j] = sqrt(2/N) cos(i (j - 0.5) pi / N), i = 1..n_mfcc, j = 1..N."""
    i = np.arange(1, n_mfcc + 1)[:, None]
    j = np.arange(1, n_mels + 1)[None, :]
    return (np.sqrt(2.0 / n_mels) * np.cos(i * (j - 0.5) * np.pi / n_mels)).astype(np.float32)


def _deltas(x: np.ndarray, width: int) -> np.ndarray:
    """Regression deltas over +-width frames along axis 0 (edges repeated)."""
    padded = np.pad(x, ((width, width), (0, 0)), mode="edge")
    n = x.shape[0]
    num = sum(
        k * (padded[width + k : width + k + n] - padded[width - k : width - k + n])
        for k in range(1, width + 1)
    )
    return num / (2 * sum(k * k for k in range(1, width + 1)))


# --------------------------------------------------------------------------- frame-level analyses


def _power_spectrum(y: np.ndarray, spec: MusicFeatureSpec) -> np.ndarray:
    frames = _frame(y, spec.frame_length, spec.hop_length)
    window = np.hanning(spec.frame_length + 1)[:-1].astype(np.float32)
    spectrum = scipy.fft.rfft(frames * window, axis=1)
    return (spectrum.real**2 + spectrum.imag**2).astype(np.float32)


def _yin_f0(frames: np.ndarray, rms_ok: np.ndarray, spec: MusicFeatureSpec) -> np.ndarray:
    """F0 in Hz per frame (NaN when unvoiced) from (n, L) frames at spec.low_sr."""
    sr = spec.low_sr
    max_lag = int(np.ceil(sr / spec.fmin_hz))
    min_lag = max(int(np.floor(sr / spec.fmax_hz)), 2)
    length = frames.shape[1]
    window = length - max_lag
    if window <= max_lag // 2:
        raise FeatureParameterError(
            f"low_frame_length={length} is too short for fmin_hz={spec.fmin_hz}"
        )
    x = np.ascontiguousarray(frames, dtype=np.float32)
    n_fft = 1 << int(np.ceil(np.log2(length + window)))
    # r(tau) = sum_{j<W} x_j x_{j+tau}, for every frame at once (single precision FFTs).
    head = scipy.fft.rfft(x[:, :window], n_fft)
    cross = scipy.fft.irfft(np.conj(head) * scipy.fft.rfft(x, n_fft), n_fft)[
        :, : max_lag + 1
    ].astype(np.float64)
    energy = np.concatenate(
        [np.zeros((x.shape[0], 1)), np.cumsum(x.astype(np.float64) ** 2, axis=1)], axis=1
    )
    taus = np.arange(max_lag + 1)
    e_tau = energy[:, taus + window] - energy[:, taus]
    diff = np.maximum(energy[:, [window]] + e_tau - 2.0 * cross, 0.0)
    cum = np.cumsum(diff[:, 1:], axis=1)
    cmnd = np.ones_like(diff)
    cmnd[:, 1:] = diff[:, 1:] * taus[1:] / np.maximum(cum, 1e-12)
    search = cmnd[:, min_lag : max_lag + 1]
    below = search < spec.yin_threshold
    voiced = below.any(axis=1) & rms_ok
    first = np.argmax(below, axis=1)
    # Follow the dip from the first crossing down to its local minimum.
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
    shift = np.where(
        np.abs(curvature) > 1e-12,
        0.5 * (left - right) / np.where(curvature == 0, 1, curvature),
        0.0,
    )
    lag = best + np.clip(shift, -1.0, 1.0)
    return np.where(voiced, sr / lag, np.nan)


def _lpc_formants(
    frames: np.ndarray, rms_ok: np.ndarray, spec: MusicFeatureSpec
) -> tuple[np.ndarray, np.ndarray]:
    """(F1..F3 frequencies, bandwidths) in Hz per frame, NaN where absent; frames at low_sr."""
    sr = spec.low_sr
    p = spec.lpc_order
    x = np.asarray(frames, dtype=np.float64)
    x = np.concatenate([x[:, :1], x[:, 1:] - spec.preemphasis * x[:, :-1]], axis=1)
    x *= np.hamming(x.shape[1])
    n_fft = 1 << int(np.ceil(np.log2(2 * x.shape[1])))
    spectrum = scipy.fft.rfft(x, n_fft)
    r = scipy.fft.irfft(spectrum.real**2 + spectrum.imag**2, n_fft)[:, : p + 1]
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
        & (freq > spec.formant_min_hz)
        & (freq < min(spec.formant_max_hz, sr / 2 - 50))
        & (bandwidth < spec.formant_max_bandwidth_hz)
        & (rms_ok & stable)[:, None]
    )
    order = np.argsort(np.where(ok, freq, np.inf), axis=1)[:, :3]
    rows = np.arange(x.shape[0])[:, None]
    picked_ok = ok[rows, order]
    return np.where(picked_ok, freq[rows, order], np.nan), np.where(
        picked_ok, bandwidth[rows, order], np.nan
    )


def _beat_histogram(
    onset: np.ndarray, index: np.ndarray, hop_s: float, spec: MusicFeatureSpec
) -> np.ndarray:
    """(n_segments, 6) rhythm features from the onset envelope gathered per segment."""
    segs = _gather(onset, index)
    segs = (
        segs - np.nanmean(np.where(np.isnan(segs), np.nan, segs), axis=1, keepdims=True)
        if segs.size
        else segs
    )
    segs = np.nan_to_num(segs, nan=0.0)
    length = segs.shape[1]
    n_fft = 1 << int(np.ceil(np.log2(2 * length)))
    spectrum = scipy.fft.rfft(segs, n_fft)
    acf = scipy.fft.irfft(spectrum.real**2 + spectrum.imag**2, n_fft)[:, :length]
    zero = acf[:, :1]
    acf = np.where(zero > 1e-12, acf / np.where(zero > 1e-12, zero, 1.0), 0.0)
    lo = max(int(np.floor(spec.beat_min_s / hop_s)), 1)
    hi = min(int(np.ceil(spec.beat_max_s / hop_s)), length - 2)
    out = np.zeros((segs.shape[0], 6))
    if hi <= lo:
        return out
    lags = np.arange(lo, hi + 1)
    h = acf[:, lags]
    peak = (h > acf[:, lags - 1]) & (h >= acf[:, lags + 1]) & (h > 0)
    amps = np.where(peak, h, -np.inf)
    rows = np.arange(segs.shape[0])
    for rank in range(2):
        j = np.argmax(amps, axis=1)
        found = np.isfinite(amps[rows, j])
        lag = lags[j]
        left, mid, right = acf[rows, lag - 1], acf[rows, lag], acf[rows, lag + 1]
        curvature = left - 2 * mid + right
        shift = np.where(
            np.abs(curvature) > 1e-12,
            0.5 * (left - right) / np.where(curvature == 0, 1, curvature),
            0.0,
        )
        out[:, 2 * rank] = np.where(found, mid, 0.0)
        out[:, 2 * rank + 1] = np.where(found, (lag + np.clip(shift, -1, 1)) * hop_s, 0.0)
        amps[rows, j] = -np.inf
    out[:, 4] = np.where(out[:, 0] > 0, out[:, 2] / np.where(out[:, 0] > 0, out[:, 0], 1.0), 0.0)
    out[:, 5] = np.maximum(h, 0).sum(axis=1)
    return out


# --------------------------------------------------------------------------- public API


def _prepare(y: np.ndarray, sr: int, spec: MusicFeatureSpec) -> np.ndarray:
    if sr != spec.sr:
        raise FeatureParameterError(
            f"sr={sr}: the music features are defined at {spec.sr} Hz; decode with load_audio(..., sr={spec.sr})"
        )
    y = validate_audio(y)
    y = np.clip(y - y.mean(), -1.0, 1.0).astype(np.float32)
    return y


def _mfcc_groups(
    power: np.ndarray, index: np.ndarray, spec: MusicFeatureSpec
) -> tuple[np.ndarray, np.ndarray]:
    """(28 MFCC columns per segment, log-mel spectrogram per frame)."""
    mel = power @ _mel_basis(spec.sr, spec.frame_length, spec.n_mels).T
    log_mel = np.log(np.maximum(mel, _LOG_FLOOR))
    mfcc = log_mel @ _dct_matrix(spec.n_mels, spec.n_mfcc).T
    delta = np.abs(_deltas(mfcc, spec.delta_width))
    frame_values = np.concatenate([mfcc, delta], axis=1)
    return np.nanmean(_gather(frame_values, index), axis=1), log_mel


def segment_features(
    *, y: np.ndarray, sr: int, spec: MusicFeatureSpec = DEFAULT_SPEC
) -> np.ndarray:
    """The paper's 62-dim feature vector for every 3 s segment of a track.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono audio in [-1, 1] at ``sr`` Hz (see :func:`models.audio.load_audio`).
    sr : int
        Sample rate of ``y`` in Hz; must equal ``spec.sr`` (22 050 Hz by default).
    spec : MusicFeatureSpec
        Extractor parameters.

    Returns
    -------
    features : np.ndarray [shape=(n_segments, 62), dtype=float32]
        Columns in the order of :data:`FEATURE_GROUPS`; finite for any valid input.
    """
    y = _prepare(y, sr, spec)
    n_segments = n_segments_for(y.size, spec=spec)
    power = _power_spectrum(y, spec)
    hop_s = spec.hop_length / spec.sr
    index = _segment_index(power.shape[0], hop_s, n_segments, spec.segment_s)
    mfcc_cols, log_mel = _mfcc_groups(power, index, spec)

    # Pitch and formants on the 11 025 Hz copy, sharing one framing.
    low = (
        soxr.resample(y, spec.sr, spec.low_sr, quality="MQ").astype(np.float32)
        if spec.low_sr != spec.sr
        else y
    )
    low_frames = _frame(low, spec.low_frame_length, spec.low_hop_length)
    rms = np.sqrt(np.mean(low_frames.astype(np.float64) ** 2, axis=1))
    rms_ok = 20 * np.log10(np.maximum(rms, 1e-12)) > spec.silence_dbfs
    low_index = _segment_index(
        low_frames.shape[0], spec.low_hop_length / spec.low_sr, n_segments, spec.segment_s
    )

    f0 = _gather(_yin_f0(low_frames, rms_ok, spec), low_index)
    p = _nan_stats(f0, quantiles=(0.5, 0.75, 0.25))
    pitch_cols = np.stack(
        [
            p["max"],
            p["min"],
            p["mean"],
            p["max"] - p["min"],
            p["std"],
            p["q0.5"],
            p["q0.75"],
            p["q0.25"],
        ],
        axis=1,
    )

    step = spec.formant_hop_length // spec.low_hop_length
    freqs, bands = _lpc_formants(low_frames[::step], rms_ok[::step], spec)
    formant_index = _segment_index(
        freqs.shape[0], spec.formant_hop_length / spec.low_sr, n_segments, spec.segment_s
    )
    formant_cols = []
    for k in range(3):
        fs = _nan_stats(_gather(freqs[:, k], formant_index), quantiles=(0.5,))
        bw = _nan_stats(_gather(bands[:, k], formant_index))
        formant_cols += [fs["mean"], fs["std"], fs["q0.5"], bw["mean"]]
    formant_cols = np.stack(formant_cols, axis=1)

    bin_hz = spec.sr / spec.frame_length
    band_of_bin = (np.arange(power.shape[1]) * bin_hz // spec.band_width_hz).astype(np.int64)
    band_matrix = (band_of_bin[:, None] == np.arange(spec.n_bands)[None, :]).astype(np.float32)
    band_energy = power @ band_matrix
    band_cols = 10 * np.log10(np.nanmean(_gather(band_energy, index), axis=1) + _LOG_FLOOR)

    onset = np.concatenate([[0.0], np.maximum(np.diff(log_mel, axis=0), 0.0).sum(axis=1)])
    onset = np.convolve(onset, _ONSET_SMOOTHING, mode="same")
    rhythm_cols = _beat_histogram(onset, index, hop_s, spec)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        features = np.concatenate(
            [mfcc_cols, pitch_cols, formant_cols, band_cols, rhythm_cols], axis=1
        )
    return np.nan_to_num(features, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)


def mfcc_segment_features(
    *, y: np.ndarray, sr: int, spec: MusicFeatureSpec = DEFAULT_SPEC
) -> np.ndarray:
    """The paper's baseline input: the 28 MFCC columns (0-27) of :func:`segment_features` only.

    Returns
    -------
    features : np.ndarray [shape=(n_segments, 28), dtype=float32]
    """
    y = _prepare(y, sr, spec)
    n_segments = n_segments_for(y.size, spec=spec)
    power = _power_spectrum(y, spec)
    index = _segment_index(power.shape[0], spec.hop_length / spec.sr, n_segments, spec.segment_s)
    mfcc_cols, _ = _mfcc_groups(power, index, spec)
    return np.nan_to_num(mfcc_cols, nan=0.0).astype(np.float32)
