"""One dead-letter policy for every agent: nothing is lost, nothing stops the stream.

An agent that cannot process an event hands it here with the exception. The policy logs the
event's topic/partition/offset and the reason, and publishes a ``DeadLetter`` record (the
original key and bytes included, when small enough) on the dead-letter topic. The agent then
moves on to the next event. Operators replay dead letters after fixing the cause.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Any, Protocol

import faust

from schemas.codec import codec_for
from streams import metrics

__all__ = ["DeadLetterPolicy", "MAX_INLINE_PAYLOAD"]

logger = logging.getLogger(__name__)

#: Payloads up to this size travel inside the dead letter; larger ones are cut to it
#: (the source topic still holds the original at the recorded offset).
MAX_INLINE_PAYLOAD = 1_000_000


class _MessageLike(Protocol):
    topic: str
    partition: int
    offset: int
    key: Any
    value: Any


class DeadLetterPolicy:
    """Publish undeliverable events to ``topic`` with their provenance and reason."""

    def __init__(self, topic: faust.TopicT) -> None:
        self.topic = topic
        self._codec = codec_for("DeadLetter")
        self.counts: Counter[str] = Counter()
        """Dead letters sent by this policy, by error kind. Tests read it; operators read the
        process-wide ``moodstream_dead_letters`` metric at ``/metrics``, counted in the same place."""

    def record_for(
        self, message: _MessageLike, error: BaseException, *, service: str
    ) -> dict[str, Any]:
        """The DeadLetter record describing ``message`` and ``error`` (pure; tested alone)."""
        payload = message.value if isinstance(message.value, bytes | bytearray) else None
        key = message.key if isinstance(message.key, bytes | bytearray) else None
        return {
            "source_topic": message.topic,
            "source_partition": int(message.partition),
            "source_offset": int(message.offset),
            "error_kind": type(error).__name__,
            "message": str(error) or repr(error),
            "service": service,
            "key": bytes(key) if key is not None else None,
            "payload": bytes(payload[:MAX_INLINE_PAYLOAD]) if payload is not None else None,
            "payload_key": None,
            "failed_at": int(time.time() * 1000),
        }

    async def send(self, message: _MessageLike, error: BaseException, *, service: str) -> None:
        """Log and publish a dead letter for ``message``; never raises for a bad event."""
        record = self.record_for(message, error, service=service)
        logger.warning(
            "dead letter from %s: %s[%d]@%d: %s: %s",
            service,
            record["source_topic"],
            record["source_partition"],
            record["source_offset"],
            record["error_kind"],
            record["message"],
        )
        self.counts[record["error_kind"]] += 1
        metrics.DEAD_LETTERS.labels(kind=record["error_kind"]).inc()
        await self.topic.send(key=record["key"], value=self._codec.encode(record))
