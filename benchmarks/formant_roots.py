"""``moodstream bench formants``: the two LPC root finders for formants, side by side.

On the frames the music extractor analyses (11 025 Hz copy, 512-sample frames, the same silence
rule) of real tracks, and on source-filter vowels of known F1-F3:

- **time**: CPU seconds per 10 000 frames of each root finder, LPC fit excluded (it is shared);
- **agreement**: the share of analysed frames where the envelope-peak finder gives the same
  F1-F3 as the companion matrix (each formant within 1 Hz, or missing in both);
- **vowel error**: largest and mean relative error of the segment's formant means against the
  true F1-F3 of /a/, /e/, /i/, /u/ at F0 100, 115 and 130 Hz.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import soxr

from models.audio import load_audio
from models.datasets.vowels import vowel
from models.features.dsp import (
    ROOT_FINDERS,
    companion_roots,
    envelope_peak_roots,
    frame_rms_dbfs,
    frame_signal,
    lpc_coefficients,
)
from models.features.music import DEFAULT_SPEC, frame_formants, group_columns, segment_features

__all__ = ["run_formant_roots_bench", "format_report"]

#: (F1, F2, F3) and bandwidths of the test vowels (Peterson & Barney-like values).
VOWELS = {
    "a": ((730.0, 1090.0, 2440.0), (90.0, 110.0, 160.0)),
    "e": ((530.0, 1840.0, 2480.0), (80.0, 100.0, 140.0)),
    "i": ((270.0, 2290.0, 3010.0), (60.0, 100.0, 120.0)),
    "u": ((300.0, 870.0, 2240.0), (60.0, 90.0, 120.0)),
}
VOWEL_F0_HZ = (100.0, 115.0, 130.0)
#: Formants closer than this count as the same.
SAME_HZ = 1.0


def _analysed_frames(path: Path) -> np.ndarray:
    """One track's 11 025 Hz frames above the silence threshold, framed as
    :func:`segment_features` frames them for LPC (its DC removal aside)."""
    spec = DEFAULT_SPEC
    y = load_audio(path, sr=spec.sr)
    low = soxr.resample(y, spec.sr, spec.low_sr, quality="MQ").astype(np.float32)
    frames = frame_signal(low, spec.low_frame_length, spec.low_hop_length)
    return np.ascontiguousarray(frames[frame_rms_dbfs(frames) > spec.silence_dbfs])


def _formants(frames: np.ndarray, root_finder: str) -> np.ndarray:
    spec = dataclasses.replace(DEFAULT_SPEC, formant_root_finder=root_finder)
    freqs, _ = frame_formants(frames, np.ones(frames.shape[0], dtype=bool), spec=spec)
    return freqs


def _root_seconds(a: np.ndarray, root_finder: str, repeats: int) -> float:
    spec = DEFAULT_SPEC
    best = np.inf
    for _ in range(repeats):
        start = time.process_time()
        if root_finder == "companion":
            companion_roots(a)
        else:
            envelope_peak_roots(
                a,
                sr=spec.low_sr,
                min_hz=spec.formant_min_hz,
                max_hz=spec.formant_max_hz,
                grid=spec.formant_grid,
            )
        best = min(best, time.process_time() - start)
    return best


def _vowel_errors(root_finder: str) -> list[float]:
    spec = dataclasses.replace(DEFAULT_SPEC, formant_root_finder=root_finder)
    formant_cols = group_columns("formant")
    errors = []
    for formants, bandwidths in VOWELS.values():
        for f0 in VOWEL_F0_HZ:
            y = vowel(formants, bandwidths, f0=f0, sr=spec.sr)
            means = segment_features(y=y, sr=spec.sr, spec=spec)[0, formant_cols][0::4]
            errors += [abs(m - f) / f for m, f in zip(means, formants, strict=True)]
    return errors


def run_formant_roots_bench(files: list[Path], *, repeats: int = 3, log=print) -> dict:
    """Time, agreement and vowel error of every root finder in :data:`ROOT_FINDERS`."""
    frames = []
    for path in files:
        log(f"decoding {path.name}")
        frames.append(_analysed_frames(path))
    all_frames = np.concatenate(frames)
    spec = DEFAULT_SPEC
    a, _ = lpc_coefficients(all_frames, order=spec.lpc_order, preemphasis=spec.preemphasis)
    exact = _formants(all_frames, "companion")
    fast = _formants(all_frames, "envelope-peaks")
    same = (np.abs(fast - exact) < SAME_HZ) | (np.isnan(fast) & np.isnan(exact))
    report = {
        "files": len(files),
        "frames": int(all_frames.shape[0]),
        "frames_same_f1_f3": float(np.mean(np.all(same, axis=1))),
        "same_per_formant": [float(s) for s in np.mean(same, axis=0)],
    }
    for name in ROOT_FINDERS:
        errors = _vowel_errors(name)
        report[name] = {
            "seconds_per_10k_frames": _root_seconds(a, name, repeats) * 1e4 / a.shape[0],
            "vowel_max_error": float(np.max(errors)),
            "vowel_mean_error": float(np.mean(errors)),
        }
    return report


def format_report(report: dict) -> str:
    """A plain-text table of :func:`run_formant_roots_bench`'s report."""
    lines = [
        f"{report['frames']} analysed frames from {report['files']} files",
        f"{'root finder':<16}{'s / 10k frames':>16}{'vowel max err':>15}{'vowel mean err':>16}",
    ]
    for name in ROOT_FINDERS:
        r = report[name]
        lines.append(
            f"{name:<16}{r['seconds_per_10k_frames']:>16.4f}"
            f"{r['vowel_max_error']:>14.1%}{r['vowel_mean_error']:>16.1%}"
        )
    per = " / ".join(f"{s:.1%}" for s in report["same_per_formant"])
    lines.append(
        f"frames with the same F1-F3 (within {SAME_HZ:g} Hz): {report['frames_same_f1_f3']:.1%}"
        f" (F1 / F2 / F3: {per})"
    )
    return "\n".join(lines)
