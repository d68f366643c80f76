"""``moodstream bench features``: speed, memory and agreement of the music feature extractors.

(a) moodstream's vectorised extractor, (b) a plain librosa implementation of the same features
(:mod:`benchmarks.librosa_reference`), (c) openSMILE eGeMAPS low-level descriptors (the
``opensmile`` package; its licence is non-commercial, so it is a benchmark extra only). Each runs
in its own single-threaded child process on the same files, decode included.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from models.datasets.wesnoth import audio_files, wesnoth_music

__all__ = [
    "IMPLEMENTATIONS",
    "MissingExtraError",
    "available_implementations",
    "run_features_bench",
    "format_report",
]

_SINGLE_THREAD = {
    k: "1"
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
}
IMPLEMENTATIONS = ("moodstream", "librosa_reference", "opensmile_egemaps")
#: Implementation -> (the module it needs, what to install when it is missing).
_NEEDS = {"opensmile_egemaps": ("opensmile", "pip install -e '.[bench]' (make bench does)")}


class MissingExtraError(RuntimeError):
    """An implementation was asked for whose package is not installed."""


def available_implementations() -> dict[str, str | None]:
    """Each implementation -> ``None`` when it can run here, else what to install."""
    import importlib.util

    return {
        impl: (
            None
            if impl not in _NEEDS or importlib.util.find_spec(_NEEDS[impl][0]) is not None
            else f"the {_NEEDS[impl][0]!r} package is missing: {_NEEDS[impl][1]}"
        )
        for impl in IMPLEMENTATIONS
    }


def _run_child(impl: str, files: list[str], workdir: Path) -> tuple[dict, dict | None]:
    out = workdir / f"{impl}.json"
    env = {**os.environ, **_SINGLE_THREAD}
    subprocess.run(
        [sys.executable, "-m", "benchmarks.features_child", impl, str(out), *files],
        check=True,
        env=env,
    )
    summary = json.loads(out.read_text())
    npz = out.with_suffix(".npz")
    matrices = dict(np.load(npz)) if npz.exists() else None
    return summary, matrices


def _agreement(a: dict, b: dict) -> list[float]:
    """Pearson r per feature column between two sets of per-file matrices (rows aligned)."""
    rows_a, rows_b = [], []
    for name in sorted(set(a) & set(b)):
        n = min(len(a[name]), len(b[name]))
        rows_a.append(a[name][:n])
        rows_b.append(b[name][:n])
    x, y = np.concatenate(rows_a), np.concatenate(rows_b)
    out = []
    for j in range(x.shape[1]):
        if np.std(x[:, j]) < 1e-12 or np.std(y[:, j]) < 1e-12:
            out.append(float("nan"))
        else:
            out.append(float(np.corrcoef(x[:, j], y[:, j])[0, 1]))
    return out


def _ten_minute_track(files: list[str], workdir: Path) -> str:
    pieces, total = [], 0
    for path in files:
        y, sr = sf.read(path, dtype="float32", always_2d=True)
        pieces.append(y.mean(axis=1))
        total += y.shape[0] / sr
        if total >= 600:
            break
    y = np.concatenate(pieces)[: int(600 * sr)]
    out = workdir / "ten_minutes.ogg"
    # libsndfile's Vorbis encoder crashes on one very large write; blocks of 1 s are fine.
    with sf.SoundFile(out, "w", samplerate=sr, channels=1, format="OGG", subtype="VORBIS") as f:
        for start in range(0, y.size, sr):
            f.write(y[start : start + sr])
    return str(out)


def _best_of_rounds(summaries: list[dict]) -> dict:
    """One implementation's figures from several rounds: per file, the round that cost least.

    The machine's speed drifts (other tenants, frequency): the least CPU time a file took is
    the closest to what the code costs. Peak memory is the most any round needed.
    """
    names = summaries[0]["per_file"]
    total = sum(min(s["per_file"][n]["cpu_seconds"] for s in summaries) for n in names)
    features = sum(
        min(
            s["per_file"][n]["cpu_seconds"] - s["per_file"][n]["decode_cpu_seconds"]
            for s in summaries
        )
        for n in names
    )
    audio_s = summaries[0]["audio_seconds"]
    return {
        "rtf_per_core": audio_s / total if total > 0 else None,
        "features_only_rtf_per_core": (
            audio_s / features
            if summaries[0]["features_only_rtf_per_core"] and features > 0
            else None
        ),
        "peak_rss_mb": max(s["peak_rss_mb"] for s in summaries),
        "cpu_seconds": total,
        "rtf_per_core_each_round": [s["rtf_per_core"] for s in summaries],
    }


def run_features_bench(
    directory: Path | None = None,
    *,
    limit: int | None = None,
    implementations: tuple[str, ...] | None = None,
    rounds: int = 2,
    log=print,
) -> dict:
    """Run the benchmark; return the figures as one dict (the ``--json`` output).

    Every implementation runs ``rounds`` times, in alternating order, each time in a fresh
    single-threaded process; each file counts with its cheapest round (:func:`_best_of_rounds`).
    By default every implementation that can run here does; the others are listed under
    ``skipped`` with what to install. ``directory`` defaults to the wesnoth corpus.

    Raises
    ------
    MissingExtraError
        An implementation named in ``implementations`` cannot run here.
    DatasetError
        No audio to measure (the default corpus is not installed, or the folder has none).
    """
    missing = available_implementations()
    if implementations is None:
        implementations = tuple(impl for impl in IMPLEMENTATIONS if missing[impl] is None)
    else:
        for impl in implementations:
            if missing[impl] is not None:
                raise MissingExtraError(f"cannot run {impl}: {missing[impl]}")
    skipped = {impl: why for impl, why in missing.items() if impl not in implementations and why}
    for impl, why in skipped.items():
        log(f"skipping {impl}: {why}")
    corpus = Path(directory) if directory else wesnoth_music()
    files = [str(p) for p in audio_files(corpus, limit=limit)]
    workdir = Path(tempfile.mkdtemp(prefix="moodstream-bench-"))
    try:
        report: dict = {"corpus": str(corpus), "files": len(files), "rounds": rounds}
        if skipped:
            report["skipped"] = skipped
        matrices = {}
        summaries: dict[str, list[dict]] = {impl: [] for impl in implementations}
        for round_no in range(rounds):
            order = implementations if round_no % 2 == 0 else implementations[::-1]
            for impl in order:
                log(f"round {round_no + 1}/{rounds}: {impl} on {len(files)} files ...")
                summary, mats = _run_child(impl, files, workdir)
                summaries[impl].append(summary)
                report["audio_seconds"] = summary["audio_seconds"]
                if mats is not None and impl not in matrices:
                    matrices[impl] = mats
        for impl in implementations:
            report[impl] = _best_of_rounds(summaries[impl])
        if "moodstream" in matrices and "librosa_reference" in matrices:
            r = _agreement(matrices["moodstream"], matrices["librosa_reference"])
            report["agreement_pearson_r"] = r
            ms = report["moodstream"]["rtf_per_core"]
            report["speedup_vs_librosa_reference"] = (
                ms / report["librosa_reference"]["rtf_per_core"]
            )
            report["features_only_speedup_vs_librosa_reference"] = (
                report["moodstream"]["features_only_rtf_per_core"]
                / report["librosa_reference"]["features_only_rtf_per_core"]
            )
        log("measuring peak memory on a 10-minute track ...")
        ten, _ = _run_child("moodstream", [_ten_minute_track(files, workdir)], workdir)
        report["moodstream"]["peak_rss_mb_10min_track"] = ten["peak_rss_mb"]
        return report
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def format_report(report: dict) -> str:
    """The report as a table for people."""
    from models.features.music import FEATURE_GROUPS

    lines = [
        f"corpus: {report['corpus']} ({report['files']} files, {report['audio_seconds'] / 60:.1f} min of audio)",
        "",
        f"{'implementation':<22}{'x real time / core':>20}{'features only':>15}{'peak RSS MB':>14}",
    ]
    for impl in IMPLEMENTATIONS:
        if impl in report:
            row = report[impl]
            only = row.get("features_only_rtf_per_core")
            only_text = f"{only:.1f}" if only else "-"
            lines.append(
                f"{impl:<22}{row['rtf_per_core']:>20.1f}{only_text:>15}{row['peak_rss_mb']:>14.0f}"
            )
    lines.append(
        "(x real time / core: audio seconds per CPU second, decode included, one thread;"
        f" each file's cheapest of {report.get('rounds', 1)} rounds)"
    )
    for impl in IMPLEMENTATIONS:
        if impl in report and len(report[impl].get("rtf_per_core_each_round", [])) > 1:
            each = ", ".join(f"{v:.1f}" for v in report[impl]["rtf_per_core_each_round"])
            lines.append(f"  {impl} round by round: {each}")
    if "speedup_vs_librosa_reference" in report:
        lines.append(
            f"\nmoodstream vs the librosa reference: {report['speedup_vs_librosa_reference']:.1f}x faster with decoding, "
            f"{report['features_only_speedup_vs_librosa_reference']:.1f}x on the features alone"
        )
    lines.append(
        f"moodstream peak RSS on a 10-minute track: {report['moodstream']['peak_rss_mb_10min_track']:.0f} MB above the interpreter"
    )
    for impl, why in report.get("skipped", {}).items():
        lines.append(f"{impl} not run: {why}")
    if "agreement_pearson_r" in report:
        lines.append("\nagreement with the librosa reference (Pearson r per column, by group):")
        r = np.array(report["agreement_pearson_r"])
        start = 0
        for name, width in FEATURE_GROUPS:
            group = r[start : start + width]
            lines.append(
                f"  {name:<12} " + " ".join("  nan" if np.isnan(v) else f"{v:5.2f}" for v in group)
            )
            start += width
    return "\n".join(lines)
