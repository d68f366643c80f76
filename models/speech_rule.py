"""How the speech rule (:func:`models.features.voice.speech_activity`) does on real audio.

A clip the rule says holds no speech is answered ``NO_SPEECH``: a real listener who speaks
quietly and calmly must not get that (false rejection), and silence, noise or music must not be
read as a mood (false acceptance). :func:`speech_rule_report` measures both: the rejection rate
on every real speech corpus (per emotion too: calm speech is the quiet kind), and the acceptance
rate on seeded silence and noise at several levels and on 3 s excerpts of the music corpora.
It also measures rejection of the same speech under pink noise at :data:`NOISE_SNRS_DB` (the
noise's RMS that many dB below the clip's loud level), which no threshold was tuned on: how the
rule fares in a noisy room.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from models.audio import load_audio
from models.datasets.corpora import read_corpora
from models.features.dsp import frame_rms_dbfs, frame_signal
from models.features.voice import DEFAULT_VOICE_SPEC, speech_activity

__all__ = ["speech_rule_report", "NOISE_LEVELS_DBFS", "NOISE_SNRS_DB", "MUSIC_EXCERPT_S"]

logger = logging.getLogger(__name__)

#: RMS levels of the generated noise (dBFS): a quiet room to a loud one.
NOISE_LEVELS_DBFS = (-60.0, -45.0, -30.0, -15.0)
#: Speech-to-noise ratios (dB) of the noisy-room rows.
NOISE_SNRS_DB = (20.0, 10.0)
#: Length of the clips generated or cut for the acceptance side (seconds).
MUSIC_EXCERPT_S = 3.0


def _has_speech(y: np.ndarray) -> bool:
    return speech_activity(y=y, sr=DEFAULT_VOICE_SPEC.sr).has_speech


def _noise(kind: str, level_dbfs: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of white or pink (1/f) noise at ``level_dbfs`` RMS."""
    white = rng.standard_normal(n)
    if kind == "pink":
        spectrum = np.fft.rfft(white)
        spectrum /= np.sqrt(np.maximum(np.arange(spectrum.size), 1))
        white = np.fft.irfft(spectrum, n)
    white /= np.sqrt(np.mean(white**2))
    return (white * 10 ** (level_dbfs / 20)).astype(np.float32)


def _loud_level_dbfs(y: np.ndarray) -> float:
    spec = DEFAULT_VOICE_SPEC
    return float(
        np.percentile(frame_rms_dbfs(frame_signal(y, spec.frame_length, spec.hop_length)), 95)
    )


def _rate(flags: list[bool]) -> dict:
    return {"clips": len(flags), "rate": float(np.mean(flags)) if flags else None}


def speech_rule_report(
    speech: Sequence[Path], music: Sequence[Path], *, seed: int = 0, per_kind: int = 25
) -> dict:
    """False rejection on each speech corpus and false acceptance on silence, noise (white and
    pink at :data:`NOISE_LEVELS_DBFS`, ``per_kind`` clips each) and music excerpts."""
    sr = DEFAULT_VOICE_SPEC.sr
    spec = DEFAULT_VOICE_SPEC
    report: dict = {
        "rule": "models.features.voice (module docstring)",
        "feature_spec": spec.version,
        "thresholds": {
            name: getattr(spec, name)
            for name in ("silence_dbfs", "activity_range_db", "min_voiced_s", "min_voiced_fraction",
                         "pause_range_db", "min_level_range_db", "min_zcr_std", "min_centroid_cv")
        },
    }  # fmt: skip
    rng = np.random.default_rng(seed)
    rejected: dict = {}
    in_noise: dict = {}
    for folder in speech:
        clips = read_corpora([folder])
        audio = {clip.path: load_audio(clip.path, sr=sr) for clip in clips}
        flags = {path: not _has_speech(y) for path, y in audio.items()}
        by_emotion = {}
        for emotion in sorted({c.emotion for c in clips}):
            by_emotion[emotion] = _rate([flags[c.path] for c in clips if c.emotion == emotion])
        rejected[Path(folder).name] = {**_rate(list(flags.values())), "by_emotion": by_emotion}
        for snr in NOISE_SNRS_DB:
            noisy = [
                not _has_speech(y + _noise("pink", _loud_level_dbfs(y) - snr, y.size, rng))
                for y in audio.values()
            ]
            in_noise[f"{Path(folder).name}, pink noise at SNR {snr:g} dB"] = _rate(noisy)
    report["false_rejection"] = rejected
    report["false_rejection_in_noise"] = in_noise
    n = int(MUSIC_EXCERPT_S * sr)
    accepted: dict = {"silence": _rate([_has_speech(np.zeros(n, np.float32))])}
    for kind in ("white", "pink"):
        for level in NOISE_LEVELS_DBFS:
            flags = [_has_speech(_noise(kind, level, n, rng)) for _ in range(per_kind)]
            accepted[f"{kind} noise {level:g} dBFS"] = _rate(flags)
    for folder in music:
        flags = []
        for clip in read_corpora([folder]):
            y = load_audio(clip.path, sr=sr)
            start = min(max(0, y.size // 2 - n // 2), max(0, y.size - n))
            flags.append(_has_speech(y[start : start + n]))
        accepted[f"music: {Path(folder).name}"] = _rate(flags)
    report["false_acceptance"] = accepted
    noise = [v["rate"] for k, v in accepted.items() if "noise" in k or k == "silence"]
    report["summary"] = {
        "false_rejection_worst": max((v["rate"] for v in rejected.values()), default=None),
        "false_acceptance_silence_and_noise": float(np.mean(noise)) if noise else None,
        "false_acceptance_music": {
            k: v["rate"] for k, v in accepted.items() if k.startswith("music")
        },
    }
    return report
