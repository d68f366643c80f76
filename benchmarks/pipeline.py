"""``moodstream bench pipeline``: the product's two paths, with Kafka and MinIO in the loop.

1. **Ingest throughput.** A fresh worker (own topics) gets ``TrackDiscovered`` events for audio
   already in the audio bucket (what ``make demo`` crawled), under track ids of this run's own:
   every stage downstream of the crawler keys its work by track id, so each run extracts,
   embeds and labels every track again (a second run used to find the same ids' features
   stored and measured only the skip). The clock runs until every track is labelled. Reported
   as audio-hours per wall-clock hour and per CPU-hour of the worker process.
2. **Clip -> recommendation latency** at a steady rate (default 10 clips/s for 20 s) from an
   open-loop kafka-python load (:mod:`benchmarks.clip_load`), answered by the same worker:
   p50 / p99 / max from send to the answer's arrival, and whether the backlog grows.
3. With ``sweep``, the clip load is raised rate by rate until the backlog grows or p99 passes
   500 ms; the highest rate that held is the **sustainable rate**.

Needs promoted models (``make demo`` trains them).
"""

from __future__ import annotations

import io
import os
import time
import uuid
from collections.abc import Sequence

import numpy as np

from schemas.emotions import EMOTIONS

__all__ = ["DEFAULT_SWEEP", "run_pipeline_bench", "format_report"]

#: Clip rates (per second) that ``--sweep`` tries, in order, until one does not hold.
DEFAULT_SWEEP = (10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 80.0, 100.0)
#: What a rate must keep to count as sustainable.
SUSTAINABLE_P99_MS = 500.0


def _worker_pids(pid: int) -> list[int]:
    """The worker and its live child processes (its clip readers), from /proc."""
    from pathlib import Path

    pids = [pid]
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            pids += [int(c) for c in children.read_text().split()]
        except OSError:  # a thread ended meanwhile
            continue
    return pids


def _cpu_seconds(pid: int) -> float:
    """CPU seconds of the worker and its clip readers (utime + stime)."""
    import os

    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for one in _worker_pids(pid):
        try:
            fields = open(f"/proc/{one}/stat").read().rsplit(")", 1)[1].split()
        except OSError:  # a child that ended meanwhile
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def _rss_mb(pid: int) -> float:
    """Resident memory of the worker and its clip readers."""
    total = 0
    for one in _worker_pids(pid):
        try:
            for line in open(f"/proc/{one}/status"):
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def _tracks_in_store(settings, limit: int, run_tag: str) -> list[dict]:
    """Audio objects the crawler stored (with their metadata), up to ``limit``, as discoveries
    under track ids of this run (``t<sha>-<run_tag>``: never seen by any stage)."""
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
                "track_id": f"{track_id_for(sha)}-{run_tag}",
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


def _agent_seconds(worker) -> dict[str, float]:
    """Wall seconds each agent spent handling events so far (the worker's busy counter; a
    batch counts once): where the ingest time goes, stage by stage."""
    import re
    import urllib.request

    url = f"http://127.0.0.1:{worker.settings.web_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    pattern = r'moodstream_agent_busy_seconds_total\{agent="([^"]+)"\} ([0-9.e+]+)'
    return {agent: round(float(v), 1) for agent, v in re.findall(pattern, text)}


def _labelled(worker) -> int:
    return sum(len(v) for e in EMOTIONS for v in worker.get(f"/api/catalog/{e}")["themes"].values())


def _ingest(bench, worker, events: list[dict], log) -> dict:
    from kafka import KafkaProducer

    from schemas.codec import codec_for

    log(f"ingesting {len(events)} tracks under fresh ids ...")
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
    producer.close()
    while _labelled(worker) < len(events):
        time.sleep(0.5)
    wall, cpu = time.perf_counter() - t0, _cpu_seconds(worker.proc.pid) - cpu0
    audio_s = sum(e["metadata"]["duration_s"] for e in events)
    return {
        "seconds_by_agent": _agent_seconds(worker),
        "tracks": len(events),
        "audio_hours": round(audio_s / 3600, 3),
        "wall_s": round(wall, 1),
        "worker_cpu_s": round(cpu, 1),
        "audio_hours_per_hour": round(audio_s / wall, 1),
        "audio_hours_per_cpu_hour": round(audio_s / cpu, 1),
        "target_per_cpu_hour": 300,
    }


def _long_clip(clip: bytes, seconds: float = 29.0) -> bytes:
    """``clip`` repeated to ``seconds`` (just under the 30 s clip limit): the probe's burst."""
    import soundfile as sf

    y, sr = sf.read(io.BytesIO(clip), dtype="float32")
    y = np.tile(y, int(np.ceil(seconds * sr / y.size)))[: int(seconds * sr)]
    buf = io.BytesIO()
    sf.write(buf, y, sr, format="WAV")
    return buf.getvalue()


def _clip_rate(
    bench, worker, clip: bytes, rate: float, seconds: float, burst: tuple[bytes, int] | None = None
) -> dict:
    from benchmarks.clip_load import run_clip_load

    pid = worker.proc.pid
    cpu0, t0 = _cpu_seconds(pid), time.perf_counter()
    result = run_clip_load(bench, clip, rate=rate, seconds=seconds, burst=burst)
    wall = time.perf_counter() - t0
    summary = result.summary()
    summary["worker_cpu_percent"] = round(100 * (_cpu_seconds(pid) - cpu0) / wall, 1)
    summary["worker_rss_mb"] = round(_rss_mb(pid), 1)
    summary["sustainable"] = bool(
        result.answered == result.sent
        and not result.backlog_grows
        and result.percentile(99) <= SUSTAINABLE_P99_MS
    )
    return summary


def run_pipeline_bench(
    settings,
    *,
    tracks: int = 60,
    rate: float = 10.0,
    seconds: float = 20.0,
    sweep: Sequence[float] | None = None,
    burst: int = 0,
    log=print,
) -> dict:
    """Measure ingest throughput and clip latency with one fresh worker (see the module doc).

    With ``sweep``, clip latency is measured at each of those rates in turn (``seconds`` each),
    stopping after the first rate that does not hold; ``rate`` is then unused. With ``burst``,
    one more run at ``rate`` has a listener send ``burst`` clips of 29 s at once, a quarter
    of the way in: the steady listeners' latency is reported beside the run without it.
    """
    import tempfile
    from pathlib import Path

    from streams.client import MoodstreamClient
    from streams.topics import ensure_topics
    from streams.worker_process import WorkerProcess

    tag = uuid.uuid4().hex[:6]
    bench = settings.replace(topic_prefix=f"bench-{tag}", app_id=f"bench-{tag}")
    ensure_topics(bench)
    events = _tracks_in_store(settings, tracks, tag)
    if not events:
        raise RuntimeError("no crawled audio in the audio bucket: run `make demo` first")
    worker = WorkerProcess(bench, Path(tempfile.mkdtemp(prefix="bench-pipeline-"))).start()
    try:
        health = worker.get("/health")
        while not all(health["models"].values()):
            time.sleep(1)
            health = worker.get("/health")
        ingest = _ingest(bench, worker, events, log)
        log(
            f"ingest: {ingest['audio_hours']} audio-hours in {ingest['wall_s']} s; "
            "clip latency next ..."
        )
        clip = _clip()
        with MoodstreamClient(bench) as client:  # one warm-up answer: models and tables hot
            client.wait_for_recommendation(client.submit_clip("warm-up", clip), 30)
        rates = list(sweep) if sweep else [rate]
        rows = []
        for r in rates:
            row = _clip_rate(bench, worker, clip, r, seconds)
            rows.append(row)
            log(
                f"{r:g} clips/s: p50 {row['latency_ms']['p50']} ms, p99 "
                f"{row['latency_ms']['p99']} ms, {row['answered']}/{row['sent']} answered"
                + ("" if row["sustainable"] else " (does not hold)")
            )
            if sweep and not row["sustainable"]:
                break
            time.sleep(2.0)  # let the worker settle between rates
        burst_row = None
        if burst:
            if sweep:  # the steady run to compare with, at the same rate
                rows.insert(0, _clip_rate(bench, worker, clip, rate, seconds))
                time.sleep(2.0)
            burst_row = _clip_rate(bench, worker, clip, rate, seconds, (_long_clip(clip), burst))
            log(
                f"{rate:g} clips/s with a burst of {burst} x 29 s clips: steady listeners' p50 "
                f"{burst_row['latency_ms']['p50']} ms, p99 {burst_row['latency_ms']['p99']} ms"
            )
    finally:
        worker.stop()
    report: dict = {
        "worker": {
            "cores": os.cpu_count(),
            "models": health["models"],
        },
        "ingest": ingest,
        "clips": rows[0],
    }
    if burst_row is not None:
        report["burst"] = {"without": rows[0], "with": burst_row}
        if sweep:
            rows = rows[1:]
    if sweep:
        held = [row["rate_per_s"] for row in rows if row["sustainable"]]
        report["sweep"] = rows
        report["sustainable_rate_per_s"] = max(held) if held else 0.0
        report["sustainable_rule"] = (
            f"every clip answered, p99 <= {SUSTAINABLE_P99_MS:g} ms, no growing backlog"
        )
    return report


def _row(c: dict) -> str:
    lat = c["latency_ms"]
    return (
        f"{c['rate_per_s']:>6g} | {lat['p50']:>8} | {lat['p99']:>8} | {lat['max']:>8} | "
        f"{c['answered']:>4}/{c['sent']:<4} | {c['worker_cpu_percent']:>5} | "
        f"{c['worker_rss_mb']:>6} | {'yes' if c['sustainable'] else 'no'}"
    )


def format_report(report: dict) -> str:
    i = report["ingest"]
    lines = [
        f"ingest: {i['tracks']} tracks, {i['audio_hours']} audio-hours in {i['wall_s']} s wall "
        f"({i['worker_cpu_s']} s worker CPU): {i['audio_hours_per_hour']} audio-hours/hour, "
        f"{i['audio_hours_per_cpu_hour']} per worker CPU-hour "
        f"(target >= {i['target_per_cpu_hour']})",
        "  seconds by stage: "
        + ", ".join(f"{agent} {sec}" for agent, sec in i["seconds_by_agent"].items()),
        "rate/s |  p50 ms  |  p99 ms  |  max ms  | answered  | CPU % | RSS MB | holds",
    ]
    for row in report.get("sweep", [report["clips"]]):
        lines.append(_row(row))
    if "burst" in report:
        without, with_ = report["burst"]["without"], report["burst"]["with"]
        b = with_["burst"]
        lines.append(
            f"burst of {b['clips']} x 29 s clips from one listener ({b['answered']} answered, "
            f"the rest refused): steady listeners p50 {without['latency_ms']['p50']} -> "
            f"{with_['latency_ms']['p50']} ms, p99 {without['latency_ms']['p99']} -> "
            f"{with_['latency_ms']['p99']} ms (p99 {b['p99_ms_same_partition']} "
            f"ms for the {b['steady_clips_same_partition']} clips on the burst's partition "
            f"({b['partition']}), {b['p99_ms_other_partitions']} ms on the others)"
        )
    if "sweep" in report:
        lines.append(
            f"sustainable: {report['sustainable_rate_per_s']:g} clips/s "
            f"({report['sustainable_rule']})"
        )
    return "\n".join(lines)
