"""``moodstream bench pipeline``: the product's two paths, with Kafka and MinIO in the loop.

1. **Ingest throughput.** A fresh worker (own topics) gets ``TrackDiscovered`` events for audio
   already in the audio bucket (what ``make demo`` crawled); the clock runs until every track is
   labelled. Reported as audio-hours per wall-clock hour and per CPU-hour of the worker process.
2. **Clip -> recommendation latency** at a steady rate (default 10 clips/s for 20 s) from a
   kafka-python producer, answered by the same single worker: p50 / p99 from send to the
   answer's arrival at the client.

Needs promoted models (``make demo`` trains them).
"""

from __future__ import annotations

import io
import time
import uuid

import numpy as np

from schemas.emotions import EMOTIONS

__all__ = ["run_pipeline_bench", "format_report"]


def _cpu_seconds(pid: int) -> float:
    import os

    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


def _tracks_in_store(settings, limit: int) -> list[dict]:
    """Audio objects the crawler stored (with their metadata), up to ``limit``."""
    from crawler.crawl import track_id_for
    from models.storage import minio_client

    client = minio_client(settings.object_store)
    out = []
    for obj in client.list_objects(settings.bucket_audio, prefix="tracks/", recursive=True):
        stat = client.stat_object(settings.bucket_audio, obj.object_name)
        meta = {k.lower(): v for k, v in (stat.metadata or {}).items()}
        duration = float(meta.get("x-amz-meta-meta-duration_s", 0) or 0)
        sha = obj.object_name.split("/")[-1].split(".")[0]
        out.append(
            {
                "track_id": track_id_for(sha) + "b",
                "source_site": "bench",
                "source_url": f"bench://{obj.object_name}",
                "metadata": {
                    "title": meta.get("x-amz-meta-meta-title", obj.object_name),
                    "singer": "",
                    "author": "",
                    "duration_s": duration,
                    "album": "",
                },  # fmt: skip
                "object_key": obj.object_name,
                "content_sha256": sha,
                "playlist_emotion": None,
                "discovered_at": int(time.time() * 1000),
            }
        )
        if len(out) >= limit:
            break
    return out


def _clip() -> bytes:
    import soundfile as sf

    from models.datasets.synthetic_speech import SENTENCES, speak

    y, sr = speak(SENTENCES[0], voice="en-us+f3", emotion="happy", rng=np.random.default_rng(0))
    buf = io.BytesIO()
    sf.write(buf, y, sr, format="WAV")
    return buf.getvalue()


def run_pipeline_bench(
    settings, *, tracks: int = 60, rate: float = 10.0, seconds: float = 20.0, log=print
) -> dict:
    """Measure ingest throughput and clip latency with one fresh worker (see the module doc)."""
    from kafka import KafkaProducer

    from schemas.codec import codec_for
    from streams.client import MoodstreamClient
    from streams.topics import ensure_topics
    from streams.worker_process import WorkerProcess

    tag = uuid.uuid4().hex[:6]
    bench = settings.replace(topic_prefix=f"bench-{tag}", app_id=f"bench-{tag}")
    ensure_topics(bench)
    events = _tracks_in_store(settings, tracks)
    if not events:
        raise RuntimeError("no crawled audio in the audio bucket: run `make demo` first")
    import tempfile
    from pathlib import Path

    worker = WorkerProcess(bench, Path(tempfile.mkdtemp(prefix="bench-pipeline-"))).start()
    try:
        health = worker.get("/health")
        while not all(health["models"].values()):
            time.sleep(1)
            health = worker.get("/health")
        log(f"worker ready; ingesting {len(events)} tracks ...")
        producer = KafkaProducer(bootstrap_servers=bench.kafka_bootstrap, acks="all")
        codec = codec_for("TrackDiscovered")
        cpu0, t0 = _cpu_seconds(worker.proc.pid), time.perf_counter()
        for event in events:
            producer.send(
                bench.topic("tracks.discovered"),
                key=event["track_id"].encode(),
                value=codec.encode(event),
            )
        producer.flush()
        while True:
            done = sum(
                len(v) for e in EMOTIONS for v in worker.get(f"/api/catalog/{e}")["themes"].values()
            )
            if done >= len(events):
                break
            time.sleep(0.5)
        wall, cpu = time.perf_counter() - t0, _cpu_seconds(worker.proc.pid) - cpu0
        audio_s = sum(e["metadata"]["duration_s"] for e in events)
        log(
            f"ingest: {audio_s / 3600:.2f} audio-hours in {wall:.0f} s; clips at {rate}/s for {seconds:.0f} s ..."
        )
        clip = _clip()
        latencies, sent = [], {}
        with MoodstreamClient(bench) as client:
            client.submit_clip("warm-up", clip)
            for _ in client.recommendations(timeout_s=5):
                pass
            start = time.perf_counter()
            n = int(rate * seconds)
            for i in range(n):
                due = start + i / rate
                while time.perf_counter() < due:
                    for answer in client.recommendations(timeout_s=0.005):
                        if answer["request_id"] in sent:
                            latencies.append(time.perf_counter() - sent.pop(answer["request_id"]))
                rid = uuid.uuid4().hex
                sent[rid] = time.perf_counter()
                client.submit_clip(f"user-{i % 50}", clip, request_id=rid)
            deadline = time.perf_counter() + 30
            while sent and time.perf_counter() < deadline:
                for answer in client.recommendations(timeout_s=0.2):
                    if answer["request_id"] in sent:
                        latencies.append(time.perf_counter() - sent.pop(answer["request_id"]))
        lat = np.array(latencies) * 1000
    finally:
        worker.stop()
    return {
        "ingest": {
            "tracks": len(events),
            "audio_hours": round(audio_s / 3600, 3),
            "wall_s": round(wall, 1),
            "worker_cpu_s": round(cpu, 1),
            "audio_hours_per_hour": round(audio_s / wall, 1),
            "audio_hours_per_cpu_hour": round(audio_s / cpu, 1),
            "target_per_core": 60,
        },
        "clips": {
            "rate_per_s": rate,
            "sent": int(rate * seconds),
            "answered": int(lat.size),
            "latency_ms": {
                "p50": round(float(np.percentile(lat, 50)), 1),
                "p99": round(float(np.percentile(lat, 99)), 1),
                "max": round(float(lat.max()), 1),
            },
            "targets_ms": {"p50": 150, "p99": 500},
        },
    }


def format_report(report: dict) -> str:
    i, c = report["ingest"], report["clips"]
    return "\n".join(
        [
            f"ingest: {i['tracks']} tracks, {i['audio_hours']} audio-hours in {i['wall_s']} s wall "
            f"({i['worker_cpu_s']} s worker CPU): {i['audio_hours_per_hour']} audio-hours/hour, "
            f"{i['audio_hours_per_cpu_hour']} per CPU-hour (target >= {i['target_per_core']} per core)",
            f"clips: {c['answered']}/{c['sent']} answered at {c['rate_per_s']}/s; latency p50 "
            f"{c['latency_ms']['p50']} ms, p99 {c['latency_ms']['p99']} ms, max {c['latency_ms']['max']} ms "
            f"(targets p50 <= {c['targets_ms']['p50']}, p99 <= {c['targets_ms']['p99']})",
        ]
    )
