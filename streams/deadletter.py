"""One dead-letter policy for every agent: nothing is lost, nothing stops the stream.

An agent that cannot process an event hands it here with the exception. The policy logs the
event's topic/partition/offset and the reason, and publishes a ``DeadLetter`` record on the
dead-letter topic: the original key, and the original bytes inline up to ``MAX_INLINE_PAYLOAD``,
or, larger, stored in the object store under ``payload_key``. The agent then moves on to the
next event. A record batch a consumer could not read at all (:mod:`streams.record_batches`)
gets one dead letter naming its offsets (``source_offset``..``source_last_offset``), with no key
or payload: the source topic still holds the bytes. Operators replay dead letters after fixing
the cause.

A dead letter is keyed by the failed event's own key, so it lands on the partition Kafka's
default partitioner (murmur2 of the key) gives that key; keyless ones are spread.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from schemas.codec import codec_for
from streams import metrics
from streams.record_batches import SkippedBatch

if TYPE_CHECKING:
    import faust

__all__ = ["DeadLetterPolicy", "MAX_INLINE_PAYLOAD"]

logger = logging.getLogger(__name__)

#: Payloads up to this size travel inside the dead letter; larger ones are stored whole in the
#: object store (``payload_key``) when the policy has a store, else cut to it (the source topic
#: still holds the original at the recorded offset).
MAX_INLINE_PAYLOAD = 1_000_000

#: Stores a large payload under a key and returns where it went (``bucket/key``); blocking.
PayloadKeeper = Callable[[str, bytes], str]


class _MessageLike(Protocol):
    topic: str
    partition: int
    offset: int
    key: Any
    value: Any


class DeadLetterPolicy:
    """Publish undeliverable events to ``topic`` with their provenance and reason."""

    def __init__(self, topic: faust.TopicT, *, keep_payload: PayloadKeeper | None = None) -> None:
        self.topic = topic
        self._keep_payload = keep_payload
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
            "source_last_offset": None,
            "error_kind": type(error).__name__,
            "message": str(error) or repr(error),
            "service": service,
            "key": bytes(key) if key is not None else None,
            "payload": bytes(payload[:MAX_INLINE_PAYLOAD]) if payload is not None else None,
            "payload_key": None,
            "failed_at": int(time.time() * 1000),
        }

    @staticmethod
    def record_for_batch(skipped: SkippedBatch, *, service: str) -> dict[str, Any]:
        """The DeadLetter record of a record batch skipped whole (pure)."""
        return {
            "source_topic": skipped.topic,
            "source_partition": skipped.partition,
            "source_offset": skipped.first_offset,
            "source_last_offset": skipped.last_offset,
            "error_kind": skipped.error_kind,
            "message": skipped.describe(),
            "service": service,
            "key": None,
            "payload": None,
            "payload_key": None,
            "failed_at": int(time.time() * 1000),
        }

    async def send_batch(self, skipped: SkippedBatch, *, service: str) -> None:
        """Log and publish the dead letter of a skipped record batch."""
        await self._publish(self.record_for_batch(skipped, service=service), service)

    async def send(self, message: _MessageLike, error: BaseException, *, service: str) -> None:
        """Log and publish a dead letter for ``message``; never raises for a bad event."""
        record = self.record_for(message, error, service=service)
        payload = message.value if isinstance(message.value, bytes | bytearray) else None
        if payload is not None and len(payload) > MAX_INLINE_PAYLOAD and self._keep_payload:
            key = f"deadletters/{record['source_topic']}/{record['source_partition']}/{record['source_offset']}"
            try:
                record["payload_key"] = await asyncio.to_thread(
                    self._keep_payload, key, bytes(payload)
                )
                record["payload"] = None
            except Exception:  # noqa: BLE001  (the store down: keep the cut payload inline)
                logger.exception("could not store the dead letter's payload under %s", key)
        await self._publish(record, service)

    async def _publish(self, record: dict[str, Any], service: str) -> None:
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
