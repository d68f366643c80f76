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
