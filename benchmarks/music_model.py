"""``moodstream bench music``: serving latency and batched throughput of the music emotion model.

Features are excluded: the input is a segment matrix, as the stream agent holds it. The model is
the promoted one when ``--model`` points to a ``.keras`` file, else a freshly built network of the
method's configuration (latency does not depend on the weights). TensorFlow runs on one thread
(one core), as a worker would with one agent per core.
"""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path

import numpy as np

from benchmarks.tf_threads import pin_tensorflow_to_one_thread
from models.inference import MusicEmotionClassifier  # first: quiets TensorFlow's C++ logging
from models.music_model import METHOD_MSE, build_music_model

__all__ = ["run_music_bench", "format_report", "run_ingest_profile", "format_ingest_profile"]

#: A 4-minute track has 80 segments of 3 s.
TRACK_SEGMENTS = 80


def _classifier(model_path: Path | None) -> MusicEmotionClassifier:
    if model_path is not None:
        return MusicEmotionClassifier.load(model_path)
    model = build_music_model(METHOD_MSE, mean=np.zeros(62), std=np.ones(62))
    return MusicEmotionClassifier(model, version="untrained-bench")


def run_music_bench(
    *,
    model_path: Path | None = None,
    repeats: int = 200,
    batch_sizes: tuple[int, ...] = (1, 8, 32, 128),
    seed: int = 0,
) -> dict:
    """Measure single-track latency (p50/p90/p99) and throughput per batch size."""
    one_thread = pin_tensorflow_to_one_thread()
    classifier = _classifier(model_path)
    rng = np.random.default_rng(seed)
    track = rng.normal(size=(TRACK_SEGMENTS, 62)).astype(np.float32)
    t0 = time.perf_counter()
    classifier.predict(track)
    first_call_ms = 1000 * (time.perf_counter() - t0)
    for _ in range(10):
        classifier.predict(track)
    latencies = []
    for i in range(repeats):
        matrix = track if i % 2 == 0 else track[: TRACK_SEGMENTS - 1 - i % 7]
        t0 = time.perf_counter()
        classifier.predict(matrix)
        latencies.append(1000 * (time.perf_counter() - t0))
    throughput = {}
    for size in batch_sizes:
        batch = [
            rng.normal(size=(int(n), 62)).astype(np.float32) for n in rng.integers(40, 81, size)
        ]
        classifier.predict_batch(batch)
        rounds = max(3, 256 // size)
        t0 = time.perf_counter()
        for _ in range(rounds):
            classifier.predict_batch(batch)
        throughput[str(size)] = round(size * rounds / (time.perf_counter() - t0), 1)
    lat = np.array(latencies)
    return {
        "model": str(model_path) if model_path else classifier.version,
        "track_segments": TRACK_SEGMENTS,
        "threads": 1 if one_thread else None,  # None: TensorFlow's defaults (see tf_threads)
        "first_call_ms": round(first_call_ms, 1),
        "latency_ms": {
            "p50": round(float(np.percentile(lat, 50)), 3),
            "p90": round(float(np.percentile(lat, 90)), 3),
            "p99": round(float(np.percentile(lat, 99)), 3),
        },
        "target_p50_ms": 10.0,
        "throughput_tracks_per_s": throughput,
        "traces": int(classifier._predict.experimental_get_tracing_count()),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "cpu": os.cpu_count(),
    }


def _median_ms(work, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        work()
        times.append(1000 * (time.perf_counter() - t0))
    return round(float(np.median(times)), 1)


def run_ingest_profile(
    *,
    track_s: float = 30.0,
    patch_counts: tuple[int, ...] = (1, 4, 16),
    repeats: int = 3,
    seed: int = 0,
) -> dict:
    """Where one track's labelling CPU goes, stage by stage, on one thread: the segment
    features, the musicnn log-mel and each musicnn model (ms per 3 s patch, by patches per
    call, for each of ``patch_counts``). Each figure is the median of ``repeats`` runs. The
    track is seeded noise; costs do not depend on the content."""
    import librosa

    from models.features.music import DEFAULT_SPEC, segment_features
    from models.music_embedding import MAX_PATCHES
    from models.musicnn import MUSICNN_MODELS, MUSICNN_SR, Musicnn, musicnn_log_mel, musicnn_patches

    one_thread = pin_tensorflow_to_one_thread()
    y = np.random.default_rng(seed).normal(size=int(track_s * DEFAULT_SPEC.sr)).astype(np.float32)
    y *= np.float32(0.1)
    stages = {
        "segment_features_ms": _median_ms(
            lambda: segment_features(y=y, sr=DEFAULT_SPEC.sr), repeats
        )
    }
    y16 = librosa.resample(y, orig_sr=DEFAULT_SPEC.sr, target_sr=MUSICNN_SR)
    stages["resample_16k_ms"] = _median_ms(
        lambda: librosa.resample(y, orig_sr=DEFAULT_SPEC.sr, target_sr=MUSICNN_SR), repeats
    )
    stages["musicnn_log_mel_ms"] = _median_ms(lambda: musicnn_log_mel(y16), repeats)
    patches = musicnn_patches(musicnn_log_mel(y16), max_patches=MAX_PATCHES)
    per_patch: dict[str, dict[str, float]] = {}
    for name in MUSICNN_MODELS:
        network = Musicnn(name)
        network(patches)  # traces
        stages[f"{name}_ms"] = _median_ms(lambda network=network: network(patches), repeats)
        per_patch[name] = {}
        for n in patch_counts:
            batch = np.repeat(patches[:1], n, axis=0)
            network(batch)
            per_patch[name][str(n)] = round(
                _median_ms(lambda b=batch, network=network: network(b), repeats) / n, 1
            )
    total_s = sum(stages.values()) / 1000
    return {
        "track_s": track_s,
        "patches": int(patches.shape[0]),
        "threads": 1 if one_thread else None,  # None: TensorFlow's defaults (see tf_threads)
        "stages_ms": stages,
        "musicnn_ms_per_patch_by_patches_per_call": per_patch,
        "total_ms": round(1000 * total_s, 1),
        "ceiling_audio_hours_per_cpu_hour": round(track_s / total_s, 1),
    }


def format_ingest_profile(report: dict) -> str:
    """A human-readable summary of :func:`run_ingest_profile`."""
    lines = [
        f"labelling one {report['track_s']:g} s track ({report['patches']} musicnn patches), "
        "one thread:",
        *(f"  {stage.removesuffix('_ms')}: {ms} ms" for stage, ms in report["stages_ms"].items()),
        f"  total {report['total_ms']} ms: at most {report['ceiling_audio_hours_per_cpu_hour']} "
        "audio-hours per CPU-hour for tracks of this length (decoding, Kafka, MinIO not included)",
    ]
    for name, by_n in report["musicnn_ms_per_patch_by_patches_per_call"].items():
        lines.append(
            f"  {name} ms per patch by patches per call: "
            + ", ".join(f"{n}: {ms}" for n, ms in by_n.items())
        )
    return "\n".join(lines)


def format_report(report: dict) -> str:
    """A human-readable summary of :func:`run_music_bench`."""
    lat = report["latency_ms"]
    lines = [
        f"music emotion model ({report['model']}), one thread, {report['track_segments']} x 62 input",
        f"  latency  p50 {lat['p50']:.2f} ms  p90 {lat['p90']:.2f} ms  p99 {lat['p99']:.2f} ms"
        f"  (target p50 <= {report['target_p50_ms']:.0f} ms; first call {report['first_call_ms']} ms)",
        "  throughput (tracks/s) by batch size: "
        + ", ".join(f"{k}: {v}" for k, v in report["throughput_tracks_per_s"].items()),
        f"  tf.function traces: {report['traces']}  peak RSS {report['peak_rss_mb']} MB",
    ]
    return "\n".join(lines)
