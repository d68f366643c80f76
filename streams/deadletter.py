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
from collections import Counter, OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from schemas.codec import SINGLE_OBJECT_MAGIC, codec_for, default_store
from streams import metrics
from streams.record_batches import SkippedBatch

if TYPE_CHECKING:
    import faust

__all__ = ["DeadLetterPolicy", "MAX_INLINE_PAYLOAD", "request_id_of"]

logger = logging.getLogger(__name__)

#: Payloads up to this size travel inside the dead letter; larger ones are stored whole in the
#: object store (``payload_key``) when the policy has a store, else cut to it (the source topic
#: still holds the original at the recorded offset).
MAX_INLINE_PAYLOAD = 1_000_000

#: Events a policy remembers having dead-lettered, so that one read again is not lettered twice.
REMEMBERED_LETTERS = 4096

#: Stores a large payload under a key and returns where it went (``bucket/key``); blocking.
PayloadKeeper = Callable[[str, bytes], str]


def request_id_of(payload: bytes | bytearray | None) -> str | None:
    """The ``request_id`` of a refused event's bytes, read without decoding the event: when
    they are single-object Avro of a known schema whose first field is the string
    ``request_id`` (a voice clip; a clip is what a caller waits for), else None. Decoding a
    16 MiB event would hold the event loop for a third of a second."""
    if payload is None or bytes(payload[:2]) != SINGLE_OBJECT_MAGIC:
        return None
    try:
        schema = default_store().by_fingerprint(bytes(payload[2:10])).parsed
        first = schema["fields"][0]
        if first["name"] != "request_id" or first["type"] != "string":
            return None
        size, pos = _zigzag(payload, 10)
        if not 0 < size <= 256:
            return None
        return bytes(payload[pos : pos + size]).decode("utf-8")
    except Exception:  # noqa: BLE001  (unreadable: the dead letter goes without it)
        return None


def _zigzag(data: bytes | bytearray, pos: int) -> tuple[int, int]:
    """An Avro long (zigzag varint) at ``pos``; (value, position after it)."""
    value = shift = 0
    while True:
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        if not byte & 0x80:
            return (value >> 1) ^ -(value & 1), pos
        shift += 7
        if shift > 63:
            raise ValueError("overlong varint")


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
        self._sent: OrderedDict[tuple[str, int, int], None] = OrderedDict()
        self.counts: Counter[str] = Counter()
        """Dead letters sent by this policy, by error kind. Tests read it; operators read the
        process-wide ``moodstream_dead_letters`` metric at ``/metrics``, counted in the same place."""

    @staticmethod
    def record_for(message: _MessageLike, error: BaseException, *, service: str) -> dict[str, Any]:
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
            "request_id": request_id_of(payload),
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
            "request_id": None,
            "failed_at": int(time.time() * 1000),
        }

    async def send_batch(self, skipped: SkippedBatch, *, service: str) -> None:
        """Log and publish the dead letter of a skipped record batch (once per process)."""
        record = self.record_for_batch(skipped, service=service)
        if self._first_time(record):
            await self._publish(record, service)

    def _first_time(self, record: dict[str, Any]) -> bool:
        """Whether this process has not dead-lettered the record's event yet. An event read
        again (a rebalance, the hole guard's seek back) fails again: one letter is enough."""
        mark = (record["source_topic"], record["source_partition"], record["source_offset"])
        if mark in self._sent:
            logger.info("%s[%d]@%d was dead-lettered already; not again", *mark)
            return False
        self._sent[mark] = None
        while len(self._sent) > REMEMBERED_LETTERS:
            self._sent.popitem(last=False)
        return True

    async def send(self, message: _MessageLike, error: BaseException, *, service: str) -> None:
        """Log and publish a dead letter for ``message`` (once per event in this process);
        never raises for a bad event."""
        record = self.record_for(message, error, service=service)
        if not self._first_time(record):
            return
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
