"""Seeded procedural music with known emotions and sub-styles, for tests and the demo.

Each emotion sets tempo, mode, register, loudness, articulation, dissonance and percussion
along the valence/arousal quadrants (happy: fast, major, bright, detached; angry: fast, low,
loud, dissonant, percussive; sad: slow, minor, low, soft, legato; calm: slow-moderate,
pentatonic, soft, sustained). Each emotion has several **sub-styles** (timbre and
accompaniment pattern), planted so that the theme model has something real to find.

No real music is involved: the signals are sums of decaying harmonics, noise bursts and
envelopes, cheap enough to make hundreds of tracks in seconds.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from models.datasets.corpora import mark_synthetic
from schemas.emotions import EMOTIONS

__all__ = ["EMOTIONS", "SUBSTYLES", "TrackRecipe", "synthesize_track", "write_synthetic_music"]

SUBSTYLES = ("bell", "pluck", "organ")

_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_MINOR = (0, 2, 3, 5, 7, 8, 10)
_PHRYGIAN = (0, 1, 3, 5, 6, 8, 10)
_PENTATONIC = (0, 2, 4, 7, 9)


@dataclass(frozen=True)
class _EmotionStyle:
    bpm: tuple[float, float]
    scale: tuple[int, ...]
    root_midi: tuple[int, int]
    loudness: tuple[float, float]
    note_fraction: float  # sounding part of each note: 1.0 legato, 0.3 staccato
    dissonance: float  # probability of a clashing second voice
    percussion: float  # level of noise bursts on the beat
    drive: float  # soft-clipping gain (harshness)


_STYLES = {
    "happy": _EmotionStyle((120, 150), _MAJOR, (64, 72), (0.55, 0.75), 0.35, 0.0, 0.35, 1.0),
    "angry": _EmotionStyle((140, 176), _PHRYGIAN, (40, 48), (0.8, 1.0), 0.6, 0.8, 0.9, 4.0),
    "sad": _EmotionStyle((48, 62), _MINOR, (40, 50), (0.12, 0.25), 1.0, 0.05, 0.0, 1.0),
    "calm": _EmotionStyle((72, 90), _PENTATONIC, (60, 68), (0.25, 0.4), 1.0, 0.0, 0.05, 1.0),
}

#: Harmonic amplitudes and decay per sub-style: the timbre a theme can be recognised by.
_TIMBRES = {
    "bell": (np.array([1.0, 0.0, 0.6, 0.0, 0.4, 0.0, 0.25]), 3.0),
    "pluck": (1.0 / np.arange(1, 13) ** 0.8, 9.0),
    "organ": (np.array([1.0, 0.9, 0.7, 0.6, 0.5, 0.45, 0.4, 0.35]), 0.4),
}


@dataclass(frozen=True)
class TrackRecipe:
    """Everything that determines one synthetic track."""

    emotion: str
    substyle: str
    seed: int
    seconds: float = 20.0
    sr: int = 22050


def _midi_hz(note: float) -> float:
    return 440.0 * 2.0 ** ((note - 69) / 12)


def _tone(
    freq: float, n: int, sr: int, timbre: str, sustain: float, rng: np.random.Generator
) -> np.ndarray:
    amps, decay = _TIMBRES[timbre]
    t = np.arange(n) / sr
    k = np.arange(1, amps.size + 1)[:, None]
    keep = (k[:, 0] * freq) < sr / 2 - 500
    phases = rng.uniform(0, 2 * np.pi, size=(amps.size, 1))
    partials = amps[keep, None] * np.sin(2 * np.pi * freq * k[keep] * t + phases[keep])
    envelope = np.exp(-decay * t) * np.minimum(1.0, t / 0.01)
    release = np.clip((sustain - t) / 0.05 + 1.0, 0.0, 1.0)
    return partials.sum(axis=0) * envelope * release


def synthesize_track(recipe: TrackRecipe) -> np.ndarray:
    """The track of ``recipe`` as mono float32 in [-1, 1] at ``recipe.sr`` Hz."""
    if recipe.emotion not in _STYLES:
        raise ValueError(f"emotion {recipe.emotion!r} is not one of {EMOTIONS}")
    if recipe.substyle not in _TIMBRES:
        raise ValueError(f"substyle {recipe.substyle!r} is not one of {SUBSTYLES}")
    style = _STYLES[recipe.emotion]
    rng = np.random.default_rng(recipe.seed)
    sr = recipe.sr
    n = int(recipe.seconds * sr)
    out = np.zeros(n + sr)
    beat_s = 60.0 / rng.uniform(*style.bpm)
    root = rng.integers(*style.root_midi)
    level = rng.uniform(*style.loudness)
    # Sub-style: timbre, note value and register (bell: half notes an octave up over a high
    # shimmer; pluck: eighths; organ: quarters over a low drone).
    beats_per_note, shift = {"bell": (2.0, 12), "pluck": (0.5, 0), "organ": (1.0, 0)}[
        recipe.substyle
    ]
    step = beat_s * beats_per_note
    root = root + shift
    degree = 0
    t = 0.0
    while t < recipe.seconds:
        degree = int(np.clip(degree + rng.integers(-2, 3), -3, 2 * len(style.scale)))
        octave, idx = divmod(degree, len(style.scale))
        note = root + 12 * octave + style.scale[idx]
        length = int(step * sr * 1.5)
        sustain = step * style.note_fraction
        start = int(t * sr)
        tone = _tone(_midi_hz(note), length, sr, recipe.substyle, sustain, rng)
        if rng.random() < style.dissonance:
            tone += 0.8 * _tone(
                _midi_hz(note + rng.choice([1, 6, 11])), length, sr, recipe.substyle, sustain, rng
            )
        if recipe.substyle == "organ":  # a sustained fifth under the melody
            tone += 0.5 * _tone(_midi_hz(note - 12 + 7), length, sr, recipe.substyle, sustain, rng)
        end = min(start + length, out.size)
        out[start:end] += tone[: end - start]
        t += step
    if recipe.substyle == "organ":
        drone_hz = _midi_hz(root - 24)
        out += 0.25 * np.sin(2 * np.pi * drone_hz * np.arange(out.size) / sr)
    elif recipe.substyle == "bell":
        shimmer = np.fft.rfft(rng.standard_normal(out.size))
        freqs = np.fft.rfftfreq(out.size, 1 / sr)
        shimmer[(freqs < 3000) | (freqs > 4000)] = 0
        shimmer = np.fft.irfft(shimmer, out.size)
        out += 0.15 * shimmer / (np.std(shimmer) + 1e-9)
    if style.percussion > 0:
        burst = int(0.03 * sr)
        shape = np.exp(-np.linspace(0, 6, burst))
        for beat in np.arange(0, recipe.seconds, beat_s):
            i = int(beat * sr)
            out[i : i + burst] += style.percussion * rng.standard_normal(burst) * shape
    out = out[:n]
    out = np.tanh(style.drive * out / (np.max(np.abs(out)) + 1e-9)) / np.tanh(style.drive)
    out *= level
    out += 1e-4 * rng.standard_normal(n)
    return np.clip(out, -1.0, 1.0).astype(np.float32)


def write_synthetic_music(
    out_dir: Path,
    *,
    tracks_per_substyle: int = 4,
    seconds: float = 20.0,
    seed: int = 0,
    emotions: tuple[str, ...] = EMOTIONS,
    substyles: tuple[str, ...] = SUBSTYLES,
    sr: int = 22050,
    audio_format: str = "FLAC",
) -> Path:
    """Write a labelled synthetic set; return the path of its ``labels.csv``.

    ``labels.csv`` has ``path,emotion,group,substyle``; every track is its own group (song).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    suffix = {"FLAC": "flac", "OGG": "ogg", "WAV": "wav"}[audio_format]
    rows = []
    for e_i, emotion in enumerate(emotions):
        for s_i, substyle in enumerate(substyles):
            for k in range(tracks_per_substyle):
                track_seed = seed * 1_000_003 + e_i * 10_007 + s_i * 101 + k
                recipe = TrackRecipe(emotion, substyle, track_seed, seconds, sr)
                name = f"{emotion}-{substyle}-{k:03d}.{suffix}"
                sf.write(out_dir / name, synthesize_track(recipe), sr, format=audio_format)
                rows.append(
                    {
                        "path": name,
                        "emotion": emotion,
                        "group": f"{emotion}-{substyle}-{k:03d}",
                        "substyle": substyle,
                    }
                )
    labels = out_dir / "labels.csv"
    with open(labels, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["path", "emotion", "group", "substyle"])
        writer.writeheader()
        writer.writerows(rows)
    mark_synthetic(out_dir)
    return labels
