"""One benchmark run in a child process: ``python -m benchmarks.features_child IMPL OUT FILE...``.

Runs single-threaded (the parent sets the thread variables), measures CPU seconds of this
process (decode included) and peak RSS above the interpreter with everything imported, and
writes a JSON summary (plus the feature matrices for ``moodstream`` and ``librosa_reference``)
to ``OUT``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf


def _rss_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def _stages(impl: str):
    """(decode(path) -> signal, features(signal) -> matrix); opensmile does both in one call."""
    if impl == "moodstream":
        from models.audio import load_audio
        from models.features.music import DEFAULT_SPEC, segment_features

        return (
            lambda path: load_audio(path, sr=DEFAULT_SPEC.sr),
            lambda y: segment_features(y=y, sr=DEFAULT_SPEC.sr),
        )
    if impl == "librosa_reference":
        from benchmarks.librosa_reference import reference_decode, reference_features

        return reference_decode, reference_features
    if impl == "opensmile_egemaps":
        import opensmile

        smile = opensmile.Smile(
            feature_set=opensmile.FeatureSet.eGeMAPSv02,
            feature_level=opensmile.FeatureLevel.LowLevelDescriptors,
        )
        return (lambda path: path), (
            lambda path: smile.process_file(path).to_numpy(dtype=np.float32)
        )
    raise SystemExit(f"unknown implementation {impl!r}")


def main(argv: list[str]) -> None:
    impl, out, *files = argv
    decode, features_of = _stages(impl)

    def extract(path: str):
        return features_of(decode(path))

    warm = Path(out).with_suffix(".warm.wav")
    sf.write(
        warm, np.zeros(22050 * 4, dtype=np.float32) + 1e-3 * np.sin(np.arange(22050 * 4)), 22050
    )
    extract(str(warm))  # lazy imports and caches happen here, outside the measurement
    warm.unlink()
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak-RSS counter
    baseline = _rss_mb("VmRSS")
    cpu = 0.0
    decode_cpu = 0.0
    matrices = {}
    per_file = {}
    audio_s = 0.0
    for path in files:
        audio_s += sf.info(path).duration
        start = time.process_time()
        signal = decode(path)
        decoded = time.process_time()
        features = features_of(signal)
        done = time.process_time()
        cpu += done - start
        decode_cpu += decoded - start
        per_file[Path(path).name] = {
            "cpu_seconds": done - start,
            "decode_cpu_seconds": decoded - start,
        }
        matrices[Path(path).name] = features
        del signal
    summary = {
        "impl": impl,
        "files": len(files),
        "audio_seconds": audio_s,
        "cpu_seconds": cpu,
        "rtf_per_core": audio_s / cpu if cpu > 0 else None,
        "features_only_rtf_per_core": (
            audio_s / (cpu - decode_cpu)
            if impl != "opensmile_egemaps" and cpu > decode_cpu
            else None
        ),
        "peak_rss_mb": _rss_mb("VmHWM") - baseline,
        "per_file": per_file,
    }
    Path(out).write_text(json.dumps(summary))
    if impl != "opensmile_egemaps":
        np.savez(Path(out).with_suffix(".npz"), **matrices)


if __name__ == "__main__":
    main(sys.argv[1:])
