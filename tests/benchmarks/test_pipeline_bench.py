"""``moodstream bench pipeline``: when a clip rate holds, and what the report says.

The load itself runs against a live worker in ``tests/integration/test_pipeline.py``; the
figures are in docs/throughput.md."""

from __future__ import annotations

import numpy as np

from benchmarks.clip_load import ClipLoadResult
from benchmarks.pipeline import format_report


def _result(latencies, *, behind: int = 0, halves=(20.0, 22.0), rate: float = 50.0):
    return ClipLoadResult(
        rate_per_s=rate, seconds=10.0, sent=len(latencies), latencies_ms=np.array(latencies),
        behind_at_end=behind, first_half_p50_ms=halves[0], second_half_p50_ms=halves[1],
    )  # fmt: skip


def test_a_backlog_grows_when_answers_fall_behind_or_latency_climbs() -> None:
    assert not _result([20.0] * 100).backlog_grows
    assert _result([20.0] * 100, behind=51).backlog_grows  # over a second of clips unanswered
    assert _result([20.0] * 100, halves=(40.0, 300.0)).backlog_grows  # the median runs away
    assert not _result([20.0] * 100, halves=(20.0, 60.0)).backlog_grows  # doubled, under 100 ms
    summary = _result([10.0] * 99 + [400.0]).summary()
    assert summary["latency_ms"] == {"p50": 10.0, "p99": 13.9, "max": 400.0}
    assert summary["answered"] == summary["sent"] == 100


def test_the_report_prints_the_capacity_table_and_the_sustainable_rate() -> None:
    def row(rate, p50, p99, holds):
        return {
            "rate_per_s": rate, "latency_ms": {"p50": p50, "p99": p99, "max": p99 + 5},
            "answered": int(rate * 10), "sent": int(rate * 10), "worker_cpu_percent": 40.0,
            "worker_rss_mb": 1500.0, "sustainable": holds,
        }  # fmt: skip

    report = {
        "ingest": {
            "tracks": 8,
            "audio_hours": 0.067,
            "wall_s": 6.5,
            "worker_cpu_s": 9.0,
            "audio_hours_per_hour": 37.1,
            "audio_hours_per_cpu_hour": 26.8,
            "target_per_cpu_hour": 300,
            "seconds_by_agent": {"extract_features": 1.0, "label_tracks": 5.0},
        },  # fmt: skip
        "clips": row(10, 18.9, 62.1, True),
        "sweep": [row(10, 18.9, 62.1, True), row(80, 24.9, 106.7, True), row(100, 426, 845, False)],
        "sustainable_rate_per_s": 80.0,
        "sustainable_rule": "every clip answered, p99 <= 500 ms, no growing backlog",
    }
    text = format_report(report)
    assert "26.8 per worker CPU-hour (target >= 300)" in text
    assert "label_tracks 5.0" in text
    table = [line for line in text.splitlines() if " | " in line]
    assert len(table) == 4 and table[0].startswith("rate/s")  # the header and a row per rate
    assert table[-1].split("|")[0].strip() == "100" and table[-1].endswith("no")
    assert "sustainable: 80 clips/s" in text


def test_a_burst_s_partition_is_told_apart_as_kafka_python_places_keys() -> None:
    from kafka.partitioner import murmur2

    from benchmarks.clip_load import _by_burst_partition

    partitions = [0, 1, 2, 3]
    burst = (murmur2(b"burst") & 0x7FFFFFFF) % 4
    users = [f"listener-{i}" for i in range(40)]
    same = {u for u in users if (murmur2(u.encode()) & 0x7FFFFFFF) % 4 == burst}
    assert 0 < len(same) < len(users)
    requests = [(u, f"r{i}") for i, u in enumerate(users)]
    latency = {r: (300.0 if u in same else 20.0) for u, r in requests}
    split = _by_burst_partition(requests, latency, partitions)
    assert split["partition"] == burst
    assert split["steady_clips_same_partition"] == len(same)
    assert (split["p99_ms_same_partition"], split["p99_ms_other_partitions"]) == (300.0, 20.0)
