"""Prometheus metrics of a worker (served at ``/metrics``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = [
    "REGISTRY", "EVENTS_IN", "EVENTS_OUT", "DEAD_LETTERS", "LATENCY", "BUSY", "BATCH_SIZE", "CONSUMER_LAG",
    "SKIPPED_BATCHES",
]  # fmt: skip

REGISTRY = CollectorRegistry()
EVENTS_IN = Counter("moodstream_events_in", "Events read, by topic", ["topic"], registry=REGISTRY)
EVENTS_OUT = Counter(
    "moodstream_events_out", "Events written, by topic", ["topic"], registry=REGISTRY
)
DEAD_LETTERS = Counter(
    "moodstream_dead_letters", "Events sent to the dead-letter topic, by error kind", ["kind"],
    registry=REGISTRY,
)  # fmt: skip
LATENCY = Histogram(
    "moodstream_processing_seconds", "Time an agent spends on one event", ["agent"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10), registry=REGISTRY,
)  # fmt: skip
BUSY = Counter(
    "moodstream_agent_busy_seconds",
    "Wall seconds an agent spent handling events (a batch counts once, however many it holds)",
    ["agent"], registry=REGISTRY,
)  # fmt: skip
BATCH_SIZE = Histogram(
    "moodstream_batch_events", "Events an agent took in one batch", ["agent"],
    buckets=(1, 2, 4, 8, 16, 32, 64), registry=REGISTRY,
)  # fmt: skip
CONSUMER_LAG = Gauge(
    "moodstream_consumer_lag", "Messages behind the end of each assigned partition", ["topic", "partition"],
    registry=REGISTRY,
)  # fmt: skip
SKIPPED_BATCHES = Counter(
    "moodstream_skipped_batches",
    "Record batches a consumer could not read and passed over (streams.record_batches), by topic and error kind",
    ["topic", "kind"], registry=REGISTRY,
)  # fmt: skip
