"""An open-loop clip load for ``moodstream bench pipeline``: clips at a fixed rate, answers timed.

The sender never waits for an answer or for the broker's acknowledgement (``send`` without
``.get()``), and a thread of its own consumes the recommendations and stamps each answer when it
arrives. A load generator that polls for answers between sends falls behind the rate it claims
as soon as answers slow down, and then measures itself, not the worker.

A burst comes from a producer process of its own, as it would from another client, so that its
90 MB never queue in front of the steady clips inside the load's own producer (measured on
2026-11-30, this made no difference to the steady listeners' p99, but the bench no longer has
to be trusted on that).
"""

from __future__ import annotations

import multiprocessing
import threading
import time
import uuid
from dataclasses import dataclass, field

import numpy as np

from schemas.codec import codec_for
from streams.events import clip_event
from streams.settings import Settings

__all__ = ["ClipLoadResult", "run_clip_load"]


@dataclass
class ClipLoadResult:
    """What one rate did: latencies of the answered requests and how far the answers fell behind."""

    rate_per_s: float
    seconds: float
    sent: int
    latencies_ms: np.ndarray
    behind_at_end: int
    """Requests sent but not answered when the last clip was sent (a growing backlog)."""
    first_half_p50_ms: float
    second_half_p50_ms: float
    requests: list[tuple[str, str]] = field(default_factory=list)
    """(listener, request id) of every timed clip, in the order they were sent."""
    extra: dict = field(default_factory=dict)

    @property
    def answered(self) -> int:
        return int(self.latencies_ms.size)

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if self.answered else float("inf")

    @property
    def backlog_grows(self) -> bool:
        """Answers fell behind the sends: more than one second of clips were unanswered when
        the last was sent, or the median latency of the second half more than doubled against
        the first (and passed 100 ms)."""
        return self.behind_at_end > self.rate_per_s or (
            self.second_half_p50_ms > max(2 * self.first_half_p50_ms, 100.0)
        )

    def summary(self) -> dict:
        lat = self.latencies_ms
        return {
            "rate_per_s": self.rate_per_s,
            "seconds": self.seconds,
            "sent": self.sent,
            "answered": self.answered,
            "latency_ms": {
                "p50": round(self.percentile(50), 1),
                "p99": round(self.percentile(99), 1),
                "max": round(float(lat.max()), 1) if lat.size else None,
            },
            "behind_at_end": self.behind_at_end,
            "backlog_grows": self.backlog_grows,
            **self.extra,
        }


class _AnswerClock(threading.Thread):
    """Consumes the recommendations topic from its current end and stamps each answer."""

    def __init__(self, settings: Settings) -> None:
        from kafka import KafkaConsumer

        from streams.record_batches import install_batch_guard

        install_batch_guard()  # a batch it cannot read is skipped, logged and counted
        super().__init__(daemon=True, name="answer-clock")
        self.arrived: dict[str, float] = {}
        self._halt = threading.Event()
        self._decode = codec_for("Recommendation").decode
        self._consumer = KafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap, group_id=None,
            enable_auto_commit=False, fetch_max_wait_ms=10,
        )  # fmt: skip
        topic = settings.topic("recommendations")
        from kafka import TopicPartition

        partitions = [
            TopicPartition(topic, p) for p in self._consumer.partitions_for_topic(topic) or ()
        ]
        self._consumer.assign(partitions)
        self._consumer.seek_to_end(*partitions)
        for tp in partitions:
            self._consumer.position(tp)  # resolve the end now, before any clip is sent

    def run(self) -> None:
        while not self._halt.is_set():
            for batch in self._consumer.poll(timeout_ms=20).values():
                now = time.perf_counter()
                for message in batch:
                    request_id = self._decode(message.value)["request_id"]
                    self.arrived.setdefault(request_id, now)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)
        self._consumer.close()


def _send_burst(
    bootstrap: str, topic: str, clip: bytes, request_ids: list[str], go: multiprocessing.Event
) -> None:
    """In a process of its own: when ``go`` is set, send one listener's clips all at once."""
    from kafka import KafkaProducer

    encode = codec_for("VoiceClipSubmitted").encode
    values = [encode(clip_event("burst", audio=clip, request_id=r)) for r in request_ids]
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=0, max_request_size=16 * 2**20
    )
    go.wait()
    for value in values:
        producer.send(topic, key=b"burst", value=value)
    producer.flush()
    producer.close()


def _by_burst_partition(
    requests: list[tuple[str, str]], latency: dict[str, float], partitions: list[int]
) -> dict:
    """Steady listeners' p99 on the burst's partition and on the others (kafka-python's murmur2
    partitioner placed the clips where the sessions are: :func:`partition_for_user`): a
    partition is a queue, so listeners who share one with a burst wait behind it in the log,
    whatever the worker does."""
    from streams.routing import partition_for_user

    def partition_of(key: str) -> int:
        return partitions[partition_for_user(key, len(partitions))]

    burst_partition = partition_of("burst")
    same = [latency[r] for u, r in requests if r in latency and partition_of(u) == burst_partition]
    other = [latency[r] for u, r in requests if r in latency and partition_of(u) != burst_partition]

    def p99(values: list[float]) -> float | None:
        return round(float(np.percentile(values, 99)), 1) if values else None

    return {
        "partition": burst_partition,
        "p99_ms_same_partition": p99(same),
        "p99_ms_other_partitions": p99(other),
        "steady_clips_same_partition": len(same),
    }


def run_clip_load(
    settings: Settings,
    clip: bytes,
    *,
    rate: float,
    seconds: float,
    listeners: int = 200,
    drain_s: float = 15.0,
    burst: tuple[bytes, int] | None = None,
) -> ClipLoadResult:
    """Send ``rate`` clips per second for ``seconds`` from ``listeners`` listeners in turn and
    time every answer (waiting up to ``drain_s`` after the last send for the stragglers).
    With the default 200 listeners, each sends one clip per 2 s at 100 clips/s: within the
    worker's per-listener bound (``listener_clip_limit``), as real listeners are.

    ``burst=(clip, n)``: a quarter of the way in, one more listener (``burst``) sends ``n``
    copies of ``clip`` at once, from a producer process of its own. Only the steady listeners'
    clips are timed; the burst's fate (answered or refused) is counted in ``extra``.
    """
    from kafka import KafkaProducer

    encode = codec_for("VoiceClipSubmitted").encode
    topic = settings.topic("voice.clips")
    producer = KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, acks="all", linger_ms=0,
        max_request_size=16 * 2**20,
    )  # fmt: skip
    clock = _AnswerClock(settings)
    clock.start()
    sent: dict[str, float] = {}
    order: list[str] = []
    requests: list[tuple[str, str]] = []
    burst_ids: list[str] = []
    burster = None
    if burst is not None:
        context = multiprocessing.get_context("spawn")
        go = context.Event()
        burst_ids = [uuid.uuid4().hex for _ in range(burst[1])]
        burster = context.Process(
            target=_send_burst, args=(settings.kafka_bootstrap, topic, burst[0], burst_ids, go),
            daemon=True,
        )  # fmt: skip
        burster.start()
    try:
        n = int(rate * seconds)
        start = time.perf_counter()
        for i in range(n):
            due = start + i / rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            if burster is not None and i == n // 4:
                go.set()
            user = f"listener-{i % listeners}"
            event = clip_event(user, audio=clip, request_id=uuid.uuid4().hex)
            sent[event["request_id"]] = time.perf_counter()
            order.append(event["request_id"])
            requests.append((user, event["request_id"]))
            producer.send(topic, key=user.encode(), value=encode(event))
        producer.flush()
        partitions = sorted(producer.partitions_for(topic))
        behind = sum(1 for r in order if r not in clock.arrived)
        deadline = time.perf_counter() + drain_s
        while time.perf_counter() < deadline and any(r not in clock.arrived for r in order):
            time.sleep(0.05)
    finally:
        clock.stop()
        producer.close()
        if burster is not None:
            burster.join(timeout=30)
    latency = {r: (clock.arrived[r] - sent[r]) * 1000 for r in order if r in clock.arrived}
    half = len(order) // 2

    def p50(ids: list[str]) -> float:
        values = [latency[r] for r in ids if r in latency]
        return float(np.median(values)) if values else float("inf")

    extra = {}
    if burst is not None:
        extra["burst"] = {
            "clips": len(burst_ids),
            "clip_bytes": len(burst[0]),
            "answered": sum(1 for r in burst_ids if r in clock.arrived),
            **_by_burst_partition(requests, latency, partitions),
        }
    return ClipLoadResult(
        rate_per_s=rate,
        seconds=seconds,
        sent=len(order),
        latencies_ms=np.array(list(latency.values())),
        behind_at_end=behind,
        first_half_p50_ms=p50(order[:half]),
        second_half_p50_ms=p50(order[half:]),
        requests=requests,
        extra=extra,
    )
