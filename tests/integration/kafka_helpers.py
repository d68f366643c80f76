"""Small kafka-python helpers for integration tests (outside producers and consumers)."""

from __future__ import annotations

import time
from collections.abc import Callable

from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from streams.settings import Settings


def create_topics(settings: Settings, names: list[str], partitions: int) -> None:
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        admin.create_topics([NewTopic(n, partitions, 1) for n in names])
    finally:
        admin.close()


def producer(settings: Settings) -> KafkaProducer:
    return KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", linger_ms=5)


def consume(
    settings: Settings,
    topic: str,
    *,
    until: Callable[[list], bool],
    timeout_s: float = 60.0,
    read_committed: bool = False,
) -> list:
    """Read ``topic`` from the beginning until ``until(messages)`` holds or time runs out."""
    consumer = KafkaConsumer(
        topic,
        isolation_level="read_committed" if read_committed else "read_uncommitted",
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        consumer_timeout_ms=500,
    )
    messages: list = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and not until(messages):
            for batch in consumer.poll(timeout_ms=500).values():
                messages.extend(batch)
    finally:
        consumer.close()
    return messages


def wait_for(predicate: Callable[[], object], timeout_s: float = 60.0, what: str = "condition"):
    """Poll ``predicate`` every 0.5 s until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")
