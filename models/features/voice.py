"""Inputs of the dual-channel voice emotion model (PAPER.md section 6).

Channel A (hand-crafted): per 20 ms frame (10 ms hop) 43 low-level descriptors (LLDs), then
high-level statistical functionals (HSF: mean, std, min, max) over windows of 50 frames with a
hop of 25 (515 ms), giving one 172-dim vector per window: the sequence the HSF LSTM reads.

Channel B (CRNN): log-power spectrogram, 20 ms Hamming frames, 10 ms hop, 320-point FFT
(161 bins, 0-8 kHz), cut into segments of 50 frames with 25 frames of overlap (515 ms).

Both channels use the same windows, so window ``i`` of channel A and segment ``i`` of channel B
cover the same 515 ms. A clip shorter than one window is padded to one window (spectrogram:
with the log floor; HSF: statistics over the frames that exist).

LLD columns (in order): MFCC 1-14 (26 mel bands, the paper's DCT), their 14 regression deltas
(+-2 frames), F0 (Hz; YIN on 40 ms frames centred on every other 20 ms frame, each estimate held
for two frames, 70-500 Hz, threshold 0.2), periodicity (1 - min CMND), log energy (dBFS), zero-crossing rate (crossings per
sample), F1-F3 (Hz; LPC order 16, pre-emphasis 0.9, on every 4th frame when voiced), and the log energies (dB) of the 8 bands of
500 Hz between 0 and 4 kHz. F0 and formants are undefined in unvoiced or silent frames: the HSF
of those columns is taken over the frames where they are defined, 0 when there are none.

**Activity.** A frame is *active* when its level is above the clip's loud level (95th percentile
of its frame levels) less ``activity_range_db`` (40 dB), and above ``silence_dbfs`` (-70 dBFS):
quiet speakers are heard, an inaudible hum is not. F0 and formants are computed on active frames.

**Speech rule** (:func:`speech_activity`; thresholds tuned on the real corpora, see
``models/speech_rule.py`` and docs/voice-model.md): a frame is *voiced* when it is active and
YIN finds a pitch. A clip holds speech when its voiced frames add up to at least 0.2 s, make up at least
10 % of its active frames, and the clip sounds spoken rather than played: either it pauses (its
loud and quiet frames lie ``pause_range_db``, 30 dB, apart) or it articulates (a level range of
at least ``min_level_range_db``, 15 dB, with the voiced/unvoiced alternation of speech: standard
deviation of the active frames' zero-crossing rate >= 0.08 and coefficient of variation of
their spectral centroid >= 0.5). Silence fails the first test; steady noise the second; steady
tones and most music (continuous, no fricatives) the third.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

import numpy as np

from models.audio import validate_audio
from models.exceptions import FeatureParameterError
from models.features.dsp import (
    LOG_FLOOR,
    deltas,
    frame_rms_dbfs,
    frame_signal,
    lpc_formants,
    mel_basis,
    nan_stats,
    paper_dct,
    power_spectrum,
    yin_f0,
)
from models.features.voice_quality import voice_quality

__all__ = [
    "VoiceFeatureSpec",
    "DEFAULT_VOICE_SPEC",
    "LLD_NAMES",
    "N_LLD",
    "N_HSF",
    "VoiceInputs",
    "SpeechActivity",
    "frame_llds",
    "hsf_sequence",
    "spectrogram_segments",
    "voice_inputs",
    "speech_activity",
    "analyse_clip",
]

LLD_NAMES: tuple[str, ...] = (
    *(f"mfcc{i}" for i in range(1, 15)),
    *(f"mfcc{i}_delta" for i in range(1, 15)),
    "f0_hz",
    "periodicity",
    "log_energy_dbfs",
    "zcr",
    "f1_hz",
    "f2_hz",
    "f3_hz",
    *(f"band{b}_db" for b in range(8)),
)
N_LLD = len(LLD_NAMES)
_FUNCTIONALS = ("mean", "std", "min", "max")
N_HSF = N_LLD * len(_FUNCTIONALS)
_F0, _F1 = LLD_NAMES.index("f0_hz"), LLD_NAMES.index("f1_hz")


@dataclass(frozen=True)
class VoiceFeatureSpec:
    """Every parameter of the voice inputs; :attr:`version` changes when any of them does."""

    sr: int = 16000
    frame_length: int = 320
    hop_length: int = 160
    window_frames: int = 50
    window_hop: int = 25
    n_mels: int = 26
    n_mfcc: int = 14
    delta_width: int = 2
    pitch_frame_length: int = 640
    pitch_step_frames: int = 2
    """YIN runs on every 2nd frame (20 ms step); each estimate holds for the next frame too."""
    formant_step_frames: int = 4
    """Formants on every 4th frame (40 ms step) when it is voiced."""
    fmin_hz: float = 70.0
    fmax_hz: float = 500.0
    yin_threshold: float = 0.2
    lpc_order: int = 16
    preemphasis: float = 0.9
    formant_min_hz: float = 90.0
    formant_max_hz: float = 5000.0
    formant_max_bandwidth_hz: float = 400.0
    n_bands: int = 8
    band_width_hz: float = 500.0
    silence_dbfs: float = -70.0
    """Frames at or below this level are never active."""
    activity_range_db: float = 40.0
    """Frames more than this below the clip's loud level (95th percentile) are not active."""
    spectrogram_floor_db: float = -100.0
    min_voiced_s: float = 0.2
    min_voiced_fraction: float = 0.1
    pause_range_db: float = 30.0
    """A clip whose loud and quiet frames (95th and 10th percentiles) lie this far apart pauses."""
    min_level_range_db: float = 15.0
    min_zcr_std: float = 0.08
    min_centroid_cv: float = 0.5
    revision: int = 4

    @property
    def n_bins(self) -> int:
        return self.frame_length // 2 + 1

    @property
    def version(self) -> str:
        digest = hashlib.sha1(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()
        return f"voice-{digest[:10]}"


DEFAULT_VOICE_SPEC = VoiceFeatureSpec()


@dataclass(frozen=True)
class VoiceInputs:
    """Both channels' inputs for one clip, window-aligned."""

    hsf: np.ndarray
    """(n_windows, 172) float32: channel A."""
    spectrogram: np.ndarray
    """(n_windows, 161, 50) float32 log power in dB: channel B."""
    quality: np.ndarray
    """(27,) float32: the clip's voice-quality descriptors (:mod:`models.features.voice_quality`)."""


@dataclass(frozen=True)
class SpeechActivity:
    """What the speech rule saw in a clip."""

    voiced_s: float
    voiced_fraction: float
    active_fraction: float
    level_range_db: float
    """95th less 10th percentile of the frame levels."""
    zcr_std: float
    """Standard deviation of the active frames' zero-crossing rate (crossings per sample)."""
    centroid_cv: float
    """Coefficient of variation of the active frames' spectral centroid."""
    has_speech: bool


def _prepare(y: np.ndarray, sr: int, spec: VoiceFeatureSpec) -> np.ndarray:
    if sr != spec.sr:
        raise FeatureParameterError(
            f"sr={sr}: the voice inputs are defined at {spec.sr} Hz; decode with load_audio(..., sr={spec.sr})"
        )
    y = validate_audio(y)
    return np.clip(y - y.mean(), -1.0, 1.0).astype(np.float32)


def _frames(y: np.ndarray, spec: VoiceFeatureSpec) -> np.ndarray:
    return frame_signal(y, spec.frame_length, spec.hop_length)


def _pitch(
    y: np.ndarray, n_frames: int, active: np.ndarray, spec: VoiceFeatureSpec
) -> tuple[np.ndarray, np.ndarray]:
    """F0 and periodicity on long frames centred on each short frame."""
    pad = (spec.pitch_frame_length - spec.frame_length) // 2
    padded = np.concatenate(
        [np.zeros(pad, np.float32), y, np.zeros(spec.pitch_frame_length, np.float32)]
    )
    step = spec.pitch_step_frames
    long_frames = frame_signal(padded, spec.pitch_frame_length, spec.hop_length)[:n_frames:step]
    f0, periodicity = yin_f0(
        long_frames,
        sr=spec.sr,
        fmin_hz=spec.fmin_hz,
        fmax_hz=spec.fmax_hz,
        threshold=spec.yin_threshold,
        active=active[::step],
    )
    # Each estimate holds for the ``step`` short frames it starts; silent frames stay unvoiced.
    f0 = np.repeat(f0, step)[:n_frames]
    f0[~active] = np.nan
    return f0, np.repeat(periodicity, step)[:n_frames]


@dataclass(frozen=True)
class _Framing:
    """What the speech rule and the LLDs share: frames, levels and the pitch track."""

    frames: np.ndarray
    level: np.ndarray
    active: np.ndarray
    f0: np.ndarray
    periodicity: np.ndarray
    power: np.ndarray
    """Hamming-windowed power spectrum of every frame (n_frames, n_bins)."""


def _framing(y: np.ndarray, spec: VoiceFeatureSpec) -> _Framing:
    frames = _frames(y, spec)
    level = frame_rms_dbfs(frames)
    loud = float(np.percentile(level, 95))
    active = level > max(spec.silence_dbfs, loud - spec.activity_range_db)
    f0, periodicity = _pitch(y, frames.shape[0], active, spec)
    power = power_spectrum(frames, np.hamming(spec.frame_length).astype(np.float32))
    return _Framing(frames, level, active, f0, periodicity, power)


def _zero_crossing_rate(frames: np.ndarray) -> np.ndarray:
    signs = np.signbit(frames)
    return np.count_nonzero(signs[:, 1:] != signs[:, :-1], axis=1) / (frames.shape[1] - 1)


def _activity(framing: _Framing, spec: VoiceFeatureSpec) -> SpeechActivity:
    voiced = ~np.isnan(framing.f0)
    voiced_s = float(voiced.sum() * spec.hop_length / spec.sr)
    active = framing.active
    n_active = int(active.sum())
    voiced_fraction = float(voiced.sum() / n_active) if n_active else 0.0
    level_range = float(np.percentile(framing.level, 95) - np.percentile(framing.level, 10))
    zcr_std = centroid_cv = 0.0
    if n_active:
        zcr_std = float(_zero_crossing_rate(framing.frames[active]).std())
        power = framing.power[active].astype(np.float64)
        hz = np.arange(power.shape[1]) * spec.sr / spec.frame_length
        centroid = (power @ hz) / np.maximum(power.sum(axis=1), 1e-20)
        centroid_cv = float(centroid.std() / max(centroid.mean(), 1e-9))
    articulates = (
        level_range >= spec.min_level_range_db
        and zcr_std >= spec.min_zcr_std
        and centroid_cv >= spec.min_centroid_cv
    )
    return SpeechActivity(
        voiced_s=voiced_s,
        voiced_fraction=voiced_fraction,
        active_fraction=float(n_active / framing.frames.shape[0]),
        level_range_db=level_range,
        zcr_std=zcr_std,
        centroid_cv=centroid_cv,
        has_speech=voiced_s >= spec.min_voiced_s
        and voiced_fraction >= spec.min_voiced_fraction
        and (level_range >= spec.pause_range_db or articulates),
    )


def _lld_matrix(
    y: np.ndarray, spec: VoiceFeatureSpec, framing: _Framing | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(n_frames, 43) LLDs with NaN where F0 / formants are undefined, and (n_frames, 3)
    formant bandwidths (NaN where not measured)."""
    framing = framing or _framing(y, spec)
    frames, level = framing.frames, framing.level
    f0, periodicity = framing.f0, framing.periodicity
    power = framing.power
    log_mel = np.log(
        np.maximum(power @ mel_basis(spec.sr, spec.frame_length, spec.n_mels).T, LOG_FLOOR)
    )
    mfcc = log_mel @ paper_dct(spec.n_mels, spec.n_mfcc).T
    zcr = _zero_crossing_rate(frames)
    # Formants are only meaningful in voiced frames; every other one (20 ms step) is enough.
    formant_frames = ~np.isnan(f0)
    formant_frames[np.arange(f0.size) % spec.formant_step_frames != 0] = False
    formants, bandwidths = lpc_formants(
        frames,
        sr=spec.sr,
        order=spec.lpc_order,
        preemphasis=spec.preemphasis,
        min_hz=spec.formant_min_hz,
        max_hz=spec.formant_max_hz,
        max_bandwidth_hz=spec.formant_max_bandwidth_hz,
        active=formant_frames,
    )
    bin_hz = spec.sr / spec.frame_length
    band_of_bin = (np.arange(power.shape[1]) * bin_hz // spec.band_width_hz).astype(np.int64)
    band_matrix = (band_of_bin[:, None] == np.arange(spec.n_bands)[None, :]).astype(np.float32)
    bands = 10 * np.log10(power @ band_matrix + LOG_FLOOR)
    llds = np.concatenate(
        [
            mfcc,
            deltas(mfcc, spec.delta_width),
            f0[:, None],
            periodicity[:, None],
            level[:, None],
            zcr[:, None],
            formants,
            bands,
        ],
        axis=1,
    )
    return llds, bandwidths


def _window_starts(n_frames: int, spec: VoiceFeatureSpec) -> np.ndarray:
    n_windows = 1 + max(0, int(np.ceil((n_frames - spec.window_frames) / spec.window_hop)))
    return np.arange(n_windows) * spec.window_hop


def frame_llds(
    *, y: np.ndarray, sr: int, spec: VoiceFeatureSpec = DEFAULT_VOICE_SPEC
) -> np.ndarray:
    """The 43 frame-level descriptors of :data:`LLD_NAMES` (undefined F0/formants as 0).

    Returns
    -------
    llds : np.ndarray [shape=(n_frames, 43), dtype=float32]
        One row per 20 ms frame, 10 ms apart.
    """
    llds, _ = _lld_matrix(_prepare(y, sr, spec), spec)
    return np.nan_to_num(llds, nan=0.0).astype(np.float32)


def hsf_sequence(llds: np.ndarray, spec: VoiceFeatureSpec = DEFAULT_VOICE_SPEC) -> np.ndarray:
    """HSF functionals (mean, std, min, max of every LLD) over 50-frame windows, hop 25.

    Parameters
    ----------
    llds : np.ndarray [shape=(n_frames, 43)]
        Frame descriptors; NaN marks undefined values (left out of the statistics).

    Returns
    -------
    hsf : np.ndarray [shape=(n_windows, 172), dtype=float32]
        Column ``4 * k + j`` is functional ``j`` (mean, std, min, max) of LLD ``k``.
    """
    starts = _window_starts(llds.shape[0], spec)
    offsets = np.arange(spec.window_frames)
    index = starts[:, None] + offsets[None, :]
    windows = np.where(
        (index < llds.shape[0])[..., None], llds[np.minimum(index, llds.shape[0] - 1)], np.nan
    )
    n_windows = windows.shape[0]
    flat = windows.transpose(0, 2, 1).reshape(n_windows * N_LLD, spec.window_frames)
    stats = nan_stats(flat)
    out = np.stack([stats[name] for name in _FUNCTIONALS], axis=1).reshape(
        n_windows, N_LLD * len(_FUNCTIONALS)
    )
    return out.astype(np.float32)


def spectrogram_segments(
    *, y: np.ndarray, sr: int, spec: VoiceFeatureSpec = DEFAULT_VOICE_SPEC
) -> np.ndarray:
    """Channel B input: log-power spectrogram segments.

    Returns
    -------
    segments : np.ndarray [shape=(n_windows, 161, 50), dtype=float32]
        dB re full scale, floored at ``spec.spectrogram_floor_db``; frequency on axis 1
        (0-8 kHz in 50 Hz bins), time on axis 2 (10 ms steps).
    """
    y = _prepare(y, sr, spec)
    frames = _frames(y, spec)
    power = power_spectrum(frames, np.hamming(spec.frame_length).astype(np.float32))
    return _spectrogram_segments(power, spec)


def _spectrogram_segments(power: np.ndarray, spec: VoiceFeatureSpec) -> np.ndarray:
    log_power = np.maximum(10 * np.log10(power + LOG_FLOOR), spec.spectrogram_floor_db)
    starts = _window_starts(log_power.shape[0], spec)
    needed = starts[-1] + spec.window_frames
    if needed > log_power.shape[0]:
        pad = np.full(
            (needed - log_power.shape[0], log_power.shape[1]), spec.spectrogram_floor_db, np.float32
        )
        log_power = np.concatenate([log_power, pad])
    index = starts[:, None] + np.arange(spec.window_frames)[None, :]
    return np.ascontiguousarray(log_power[index].transpose(0, 2, 1), dtype=np.float32)


def voice_inputs(
    *, y: np.ndarray, sr: int, spec: VoiceFeatureSpec = DEFAULT_VOICE_SPEC
) -> VoiceInputs:
    """Both channels' inputs for one clip, sharing one framing of the signal."""
    y = _prepare(y, sr, spec)
    framing = _framing(y, spec)
    return _inputs(y, framing, spec)


def _inputs(y: np.ndarray, framing: _Framing, spec: VoiceFeatureSpec) -> VoiceInputs:
    llds, bandwidths = _lld_matrix(y, spec, framing)
    quality = voice_quality(
        y=y, sr=spec.sr, hop_length=spec.hop_length, frames=framing.frames, power=framing.power,
        level=framing.level, active=framing.active, f0=framing.f0, bandwidths=bandwidths,
    )  # fmt: skip
    return VoiceInputs(
        hsf=hsf_sequence(llds, spec),
        spectrogram=_spectrogram_segments(framing.power, spec),
        quality=quality,
    )


def analyse_clip(
    *, y: np.ndarray, sr: int, spec: VoiceFeatureSpec = DEFAULT_VOICE_SPEC
) -> tuple[SpeechActivity, VoiceInputs | None]:
    """The speech rule and, when the clip holds speech, both channels' inputs.

    One framing and one pitch track serve both, so serving pays for them once.
    """
    y = _prepare(y, sr, spec)
    framing = _framing(y, spec)
    activity = _activity(framing, spec)
    return activity, (_inputs(y, framing, spec) if activity.has_speech else None)


def speech_activity(
    *, y: np.ndarray, sr: int, spec: VoiceFeatureSpec = DEFAULT_VOICE_SPEC
) -> SpeechActivity:
    """Apply the documented speech rule to a clip (see the module docstring)."""
    y = _prepare(y, sr, spec)
    return _activity(_framing(y, spec), spec)
