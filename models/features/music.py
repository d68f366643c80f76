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
  Hann window. Pitch and formants run on a 11 025 Hz copy, frames of 512 (46 ms), hop 512
  (about 65 pitch frames per segment, plenty for eight order statistics).
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
- **Formants.** On the pitch frames. Pre-emphasis 0.9, Hamming window, LPC of order 14 by the
  autocorrelation method (Levinson-Durbin, float64; frames whose recursion turns unstable give
  none). The candidates are the LPC roots behind the peaks of the LPC envelope: every local
  maximum of ``1/|A|`` on a 256-point grid seeds Newton's method, which converges to the root
  that makes the peak (a root that makes no peak of its own, e.g. one of two resonances merged
  into one peak, is not a candidate; ``moodstream bench formants`` compares it with all roots of
  the companion matrix, for agreement and cost). A root is a
  formant candidate when its frequency is between 90 Hz and 5 000 Hz and its bandwidth
  ``-fs/pi ln|z|`` is below 400 Hz; F1-F3 are the three lowest candidates. Frames below
  -60 dBFS give none. A segment with no F_k gets zeros for that formant's four values. Order
  and pre-emphasis were chosen on source-filter vowels (/a/, /e/, /i/, /u/ at F0 100, 115,
  130 Hz): largest F1-F3 error 8.8 % (mean 1.3 %), against 14 % (2.0 %) with the textbook
  0.97 / 12, the same for both root finders (``moodstream bench formants``).
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
from dataclasses import asdict, dataclass

import numpy as np
import scipy.fft
import soxr

from models.audio import validate_audio
from models.exceptions import FeatureParameterError
from models.features.dsp import (
    LOG_FLOOR,
    blockwise,
    deltas,
    frame_rms_dbfs,
    frame_signal,
    gather,
    lpc_formants,
    mel_basis,
    nan_stats,
    nan_stats_mean,
    paper_dct,
    power_spectrum,
    segment_index,
    yin_f0,
)

__all__ = [
    "MusicFeatureSpec",
    "DEFAULT_SPEC",
    "FEATURE_GROUPS",
    "N_FEATURES",
    "group_columns",
    "frame_formants",
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


def group_columns(name: str) -> slice:
    """The columns of feature group ``name`` (e.g. ``"formant"`` -> ``slice(36, 48)``)."""
    start = 0
    for group, width in FEATURE_GROUPS:
        if group == name:
            return slice(start, start + width)
        start += width
    known = ", ".join(group for group, _ in FEATURE_GROUPS)
    raise FeatureParameterError(f"no feature group {name!r}; the groups are {known}")


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
    low_hop_length: int = 512
    fmin_hz: float = 60.0
    fmax_hz: float = 1000.0
    yin_threshold: float = 0.15
    silence_dbfs: float = -60.0
    lpc_order: int = 14
    preemphasis: float = 0.9
    formant_min_hz: float = 90.0
    formant_max_hz: float = 5000.0
    formant_max_bandwidth_hz: float = 400.0
    formant_root_finder: str = "envelope-peaks"
    formant_grid: int = 256
    band_width_hz: float = 500.0
    n_bands: int = 8
    beat_min_s: float = 0.25
    beat_max_s: float = 1.5
    revision: int = 3
    """Bumped by hand when the code changes a choice that no parameter above captures."""

    @property
    def version(self) -> str:
        """``music62-<hash>``: stored with every feature matrix and every model trained on them."""
        digest = hashlib.sha1(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()
        return f"music62-{digest[:10]}"


DEFAULT_SPEC = MusicFeatureSpec()


# --------------------------------------------------------------------------- segment analyses


def n_segments_for(n_samples: int, *, spec: MusicFeatureSpec = DEFAULT_SPEC) -> int:
    """Number of segments of a signal of ``n_samples`` at ``spec.sr`` (the documented rule)."""
    duration = n_samples / spec.sr
    n_full = int(duration // spec.segment_s)
    remainder = duration - n_full * spec.segment_s
    if n_full == 0 or remainder >= spec.min_last_segment_s:
        return n_full + 1
    return n_full


def _beat_histogram(
    onset: np.ndarray, index: np.ndarray, hop_s: float, spec: MusicFeatureSpec
) -> np.ndarray:
    """(n_segments, 6) rhythm features from the onset envelope gathered per segment."""
    segs = gather(onset, index)
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
            f"sr={sr}: the music features are defined at {spec.sr} Hz; "
            f"decode with load_audio(..., sr={spec.sr})"
        )
    y = validate_audio(y)
    centred = y - y.mean(dtype=np.float64).astype(np.float32)  # the caller's y is not touched
    return np.clip(centred, -1.0, 1.0, out=centred)


@dataclass(frozen=True)
class _SpectralFrames:
    """What the main 512-sample grid yields per frame; the power spectrum itself is not kept."""

    log_mel: np.ndarray  # (n_frames, n_mels)
    band_energy: np.ndarray  # (n_frames, n_bands)


def _spectral_frames(
    y: np.ndarray, spec: MusicFeatureSpec, *, bands: bool = True
) -> _SpectralFrames:
    frames = frame_signal(y, spec.frame_length, spec.hop_length)
    window = np.hanning(spec.frame_length + 1)[:-1].astype(np.float32)
    mel = mel_basis(spec.sr, spec.frame_length, spec.n_mels).T
    band_of_bin = (
        np.arange(spec.frame_length // 2 + 1) * spec.sr / spec.frame_length // spec.band_width_hz
    ).astype(np.int64)
    band_matrix = (band_of_bin[:, None] == np.arange(spec.n_bands)[None, :]).astype(np.float32)

    def analyse(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        power = power_spectrum(block, window)
        log_mel = np.log(np.maximum(power @ mel, LOG_FLOOR))
        return log_mel, (power @ band_matrix if bands else power[:, :0])

    log_mel, band_energy = blockwise(analyse, frames)
    return _SpectralFrames(log_mel=log_mel, band_energy=band_energy)


def _mfcc_columns(log_mel: np.ndarray, index: np.ndarray, spec: MusicFeatureSpec) -> np.ndarray:
    """The 28 MFCC columns per segment: mean MFCC 1-14, mean absolute delta."""
    mfcc = log_mel @ paper_dct(spec.n_mels, spec.n_mfcc).T
    frame_values = np.concatenate([mfcc, np.abs(deltas(mfcc, spec.delta_width))], axis=1)
    return nan_stats_mean(gather(frame_values, index))


def frame_formants(
    frames: np.ndarray, active: np.ndarray, *, spec: MusicFeatureSpec = DEFAULT_SPEC
) -> tuple[np.ndarray, np.ndarray]:
    """F1-F3 and their bandwidths (Hz, NaN where none) of ``spec.low_sr`` analysis frames.

    What :func:`segment_features` computes per frame before the segment statistics; frames
    that are not ``active`` are skipped.
    """
    return lpc_formants(
        frames,
        sr=spec.low_sr,
        order=spec.lpc_order,
        preemphasis=spec.preemphasis,
        min_hz=spec.formant_min_hz,
        max_hz=spec.formant_max_hz,
        max_bandwidth_hz=spec.formant_max_bandwidth_hz,
        active=active,
        root_finder=spec.formant_root_finder,
        envelope_grid=spec.formant_grid,
    )


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
    hop_s = spec.hop_length / spec.sr
    spectral = _spectral_frames(y, spec)
    index = segment_index(spectral.log_mel.shape[0], hop_s, n_segments, spec.segment_s)
    mfcc_cols = _mfcc_columns(spectral.log_mel, index, spec)
    band_cols = 10 * np.log10(nan_stats_mean(gather(spectral.band_energy, index)) + LOG_FLOOR)

    onset = np.concatenate([[0.0], np.maximum(np.diff(spectral.log_mel, axis=0), 0.0).sum(axis=1)])
    onset = np.convolve(onset, _ONSET_SMOOTHING, mode="same")
    rhythm_cols = _beat_histogram(onset, index, hop_s, spec)

    # Pitch and formants share one framing of the 11 025 Hz copy.
    low = soxr.resample(y, spec.sr, spec.low_sr, quality="MQ").astype(np.float32)
    low_frames = frame_signal(low, spec.low_frame_length, spec.low_hop_length)
    active = frame_rms_dbfs(low_frames) > spec.silence_dbfs
    low_index = segment_index(
        low_frames.shape[0], spec.low_hop_length / spec.low_sr, n_segments, spec.segment_s
    )

    def pitch_and_formants(frames: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, ...]:
        f0, _ = yin_f0(
            frames,
            sr=spec.low_sr,
            fmin_hz=spec.fmin_hz,
            fmax_hz=spec.fmax_hz,
            threshold=spec.yin_threshold,
            active=active,
        )
        freqs, bandwidths = frame_formants(frames, active, spec=spec)
        return f0, freqs, bandwidths

    f0, freqs, bandwidths = blockwise(pitch_and_formants, low_frames, active)
    p = nan_stats(gather(f0, low_index), quantiles=(0.5, 0.75, 0.25))
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
    formant_cols = []
    for k in range(3):
        fs = nan_stats(gather(freqs[:, k], low_index), quantiles=(0.5,))
        bw = nan_stats(gather(bandwidths[:, k], low_index))
        formant_cols += [fs["mean"], fs["std"], fs["q0.5"], bw["mean"]]

    features = np.concatenate(
        [mfcc_cols, pitch_cols, np.stack(formant_cols, axis=1), band_cols, rhythm_cols], axis=1
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
    spectral = _spectral_frames(y, spec, bands=False)
    index = segment_index(
        spectral.log_mel.shape[0],
        spec.hop_length / spec.sr,
        n_segments_for(y.size, spec=spec),
        spec.segment_s,
    )
    return np.nan_to_num(_mfcc_columns(spectral.log_mel, index, spec), nan=0.0).astype(np.float32)
