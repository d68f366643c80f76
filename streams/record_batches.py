"""Record batches a consumer cannot read: decompressed within a bound, or skipped and reported.

The upstream behaviour this works around (aiokafka 0.14, kafka-python 3.0):

- Both clients decode a fetched batch lazily, while handing its records out
  (``PartitionRecords._unpack_records``). Any failure there (a codec library missing, a CRC
  mismatch, a corrupt compressed body, a record that does not parse) is raised out of
  ``getmany()``/``poll()`` *without moving the position past the batch*. Faust's Fetcher then
  crashes the whole worker, and every restart (and every worker that takes the partition over)
  crashes on the same batch again. kafka-python raises from every ``poll()`` after it.
- Both decompress a whole batch into memory with no bound: a 20 KB zstd or gzip batch can
  expand to gigabytes (a decompression bomb). The broker does not bound the decompressed size.

:func:`install_batch_guard` (once per process, before any consumer starts) changes both:

- every codec Kafka defines (gzip, snappy, lz4, zstd) is decoded by :func:`decompress_bounded`,
  which refuses a batch that would decompress past ``MAX_DECOMPRESSED_BATCH_BYTES``;
- a batch that cannot be read is skipped: the position moves past its last offset, the records
  before and after it are handed out as usual, and a :class:`SkippedBatch` (topic, partition,
  offsets, reason) goes to every callback registered with :func:`on_skipped_batch`, is logged and
  counted in ``moodstream_skipped_batches``. The worker dead-letters it and acknowledges its
  offsets (:mod:`streams.consumer`), so the partition goes on and a restart on it is clean.

Kafka 4 brokers validate CRCs and codecs when a batch is produced, so in practice only the two
things the broker lets through reach here: codecs whose library a client lacks, and bombs. The
skip path is the same for every failure.
"""

from __future__ import annotations

import io
import logging
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from streams import metrics
from streams.exceptions import StreamsError

__all__ = [
    "MAX_DECOMPRESSED_BATCH_BYTES",
    "Codec",
    "BatchTooLargeError",
    "SkippedBatch",
    "decompress_bounded",
    "install_batch_guard",
    "on_skipped_batch",
]

logger = logging.getLogger(__name__)

#: The most one compressed record batch may decompress to (bytes). Four times the largest
#: message the broker accepts (16 MiB): the default batch sizes of every client (Java 16 KiB,
#: librdkafka 1 MB, franz-go 1 MB, kafka-python 16 KiB) put a large record in a batch alone.
MAX_DECOMPRESSED_BATCH_BYTES = 64 * 1024 * 1024

Codec = Literal["gzip", "snappy", "lz4", "zstd"]

_XERIAL_MAGIC = b"\x82SNAPPY\x00"
_CHUNK = 1024 * 1024


class BatchTooLargeError(StreamsError):
    """A compressed record batch that would decompress past the bound (a decompression bomb,
    or a producer batching far more than any client does by default)."""


@dataclass(frozen=True)
class SkippedBatch:
    """A record batch a consumer passed over, and why.

    ``first_offset``..``last_offset`` (inclusive) are the offsets it skipped: the batch's, less
    any records of it that were handed out before the failure."""

    topic: str
    partition: int
    first_offset: int
    last_offset: int
    error_kind: str
    reason: str

    def describe(self) -> str:
        """One line for logs and dead letters."""
        return (
            f"record batch {self.topic}[{self.partition}] offsets {self.first_offset}.."
            f"{self.last_offset} cannot be read ({self.error_kind}: {self.reason}); skipped"
        )


def _too_large(limit: int) -> BatchTooLargeError:
    return BatchTooLargeError(
        f"the batch decompresses to more than {limit // 2**20} MiB (the limit per batch): "
        "send smaller batches (Java batch.size, librdkafka batch.size, franz-go ProducerBatchMaxBytes)"
    )


def _varint(data: bytes | memoryview, pos: int) -> tuple[int, int]:
    """An unsigned little-endian base-128 varint at ``pos``; (value, position after it)."""
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 35:
            raise ValueError("truncated or overlong snappy length")
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        if not byte & 0x80:
            return value, pos
        shift += 7


def _snappy_blocks(data: bytes) -> list[bytes]:
    """The raw snappy blocks of a Kafka snappy body: one block, or xerial's framing."""
    if not data.startswith(_XERIAL_MAGIC) or len(data) < 16:
        return [data]
    blocks, pos = [], 16
    while pos < len(data):
        if pos + 4 > len(data):
            raise ValueError("truncated xerial snappy block header")
        size = int.from_bytes(data[pos : pos + 4], "big", signed=True)
        if size < 0 or pos + 4 + size > len(data):
            raise ValueError("xerial snappy block runs past the batch")
        blocks.append(data[pos + 4 : pos + 4 + size])
        pos += 4 + size
    return blocks


def _gzip(data: bytes, limit: int) -> bytes:
    out = bytearray()
    rest = memoryview(data)
    while rest:  # gzip allows several members one after the other
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out += inflater.decompress(rest, limit + 1 - len(out))
        if len(out) > limit or inflater.unconsumed_tail:
            raise _too_large(limit)
        if not inflater.eof:
            raise ValueError("truncated gzip body")
        rest = memoryview(inflater.unused_data)
    return bytes(out)


def _snappy(data: bytes, limit: int) -> bytes:
    import cramjam

    blocks = _snappy_blocks(data)
    stated = sum(_varint(block, 0)[0] for block in blocks)  # each block states its length
    if stated > limit:
        raise _too_large(limit)
    return b"".join(bytes(cramjam.snappy.decompress_raw(block)) for block in blocks)


def _lz4(data: bytes, limit: int) -> bytes:
    import lz4.frame

    out = bytearray()
    rest = data
    while rest:  # one frame per producer batch, but frames may follow each other
        inflater = lz4.frame.LZ4FrameDecompressor()
        out += inflater.decompress(rest, max_length=limit + 1 - len(out))
        if len(out) > limit or (not inflater.eof and not inflater.needs_input):
            raise _too_large(limit)
        if not inflater.eof:
            raise ValueError("truncated lz4 frame")
        rest = inflater.unused_data
    return bytes(out)


def _zstd(data: bytes, limit: int) -> bytes:
    import zstandard

    out = bytearray()
    reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data), read_across_frames=True)
    with reader:
        while chunk := reader.read(_CHUNK):
            out += chunk
            if len(out) > limit:
                raise _too_large(limit)
    return bytes(out)


_DECODERS: dict[str, Callable[[bytes, int], bytes]] = {
    "gzip": _gzip,
    "snappy": _snappy,
    "lz4": _lz4,
    "zstd": _zstd,
}


def decompress_bounded(
    codec: Codec, data: bytes | bytearray | memoryview, *, limit: int = MAX_DECOMPRESSED_BATCH_BYTES
) -> bytes:
    """The decompressed body of a Kafka record batch compressed with ``codec``.

    Never holds more than ``limit`` + one chunk of output: gzip, lz4 and zstd are inflated with
    a bounded output, snappy's blocks state their length before they are inflated.

    Raises
    ------
    BatchTooLargeError
        The body would decompress to more than ``limit`` bytes.
    ValueError
        ``codec`` is not one Kafka defines, or the body is truncated.
    Exception
        What the codec raises for a corrupt body (zlib.error, lz4/zstd/cramjam errors).
    """
    decoder = _DECODERS.get(codec)
    if decoder is None:
        raise ValueError(f"unknown codec {codec!r}; Kafka defines {', '.join(_DECODERS)}")
    return decoder(bytes(data), limit)


# --- skip and report --------------------------------------------------------------------------

_callbacks: list[Callable[[SkippedBatch], None]] = []
_lock = threading.Lock()
_installed: dict[str, int] = {}


def on_skipped_batch(callback: Callable[[SkippedBatch], None]) -> Callable[[], None]:
    """Call ``callback`` for every batch any consumer of this process skips; return a function
    that stops it. Callbacks run on the consumer's own thread or event loop, so they must be
    quick and must not raise (a failure is logged); each decides whether the batch is its
    consumer's (by topic and partition)."""
    with _lock:
        _callbacks.append(callback)

    def stop() -> None:
        with _lock:
            if callback in _callbacks:
                _callbacks.remove(callback)

    return stop


def _report(skipped: SkippedBatch) -> None:
    logger.warning("%s", skipped.describe())
    metrics.SKIPPED_BATCHES.labels(topic=skipped.topic, kind=skipped.error_kind).inc()
    with _lock:
        callbacks = list(_callbacks)
    for callback in callbacks:
        try:
            callback(skipped)
        except Exception:  # noqa: BLE001  (a reporting failure must not stop the consumer)
            logger.exception("a skipped-batch callback failed for %s", skipped.describe())


class _TrackedBatches:
    """A client's MemoryRecords that remembers the batch it handed out last (None while a
    batch header is being read, so that a header that cannot be read is told apart)."""

    def __init__(self, records) -> None:
        self._records = records
        self.current = None

    def has_next(self) -> bool:
        return self._records.has_next()

    def next_batch(self):
        self.current = None
        self.current = self._records.next_batch()
        return self.current


def _skip(tp_topic: str, tp_partition: int, batch, position: int, exc: Exception) -> int:
    """Report the batch that failed at ``position``; return the position after it."""
    if batch is None:  # the header itself: nothing after it in this fetch can be found
        first, following = position, position + 1
    else:
        first, following = max(int(batch.base_offset), position), int(batch.next_offset)
        following = max(following, first + 1)
    _report(
        SkippedBatch(
            topic=tp_topic,
            partition=tp_partition,
            first_offset=first,
            last_offset=following - 1,
            error_kind=type(exc).__name__,
            reason=str(exc) or repr(exc),
        )
    )
    return following


def _aiokafka_partition_records(base: type) -> type:
    class GuardedPartitionRecords(base):
        """aiokafka's PartitionRecords, skipping (and reporting) a batch it cannot read."""

        def __init__(self, tp, records, *args, **kwargs) -> None:
            self._batches = _TrackedBatches(records)
            super().__init__(tp, self._batches, *args, **kwargs)

        def _unpack_records(self):
            unpack = super()._unpack_records
            while True:
                try:
                    yield from unpack()
                    return
                except Exception as exc:  # noqa: BLE001  (any failure of one batch: skip it)
                    batch = self._batches.current
                    self.next_fetch_offset = _skip(
                        self._tp.topic, self._tp.partition, batch, self.next_fetch_offset, exc
                    )
                    if batch is None:
                        return
                    self._batches.current = None

    return GuardedPartitionRecords


def _kafka_python_partition_records(base: type) -> type:
    class GuardedPartitionRecords(base):
        """kafka-python's PartitionRecords, skipping (and reporting) a batch it cannot read."""

        def _unpack_records(self, tp, records, key_deserializer, value_deserializer):
            batches = _TrackedBatches(records)
            unpack = super()._unpack_records
            while True:
                try:
                    yield from unpack(tp, batches, key_deserializer, value_deserializer)
                    return
                except Exception as exc:  # noqa: BLE001  (any failure of one batch: skip it)
                    batch = batches.current
                    self.next_fetch_offset = _skip(
                        tp.topic, tp.partition, batch, self.next_fetch_offset, exc
                    )
                    if batch is None:
                        self.drain()
                        return
                    batches.current = None

    return GuardedPartitionRecords


def _bounded(codec: Codec, limit: int) -> Callable[[bytes], bytes]:
    def decode(payload, *_args, **_kwargs) -> bytes:
        return decompress_bounded(codec, payload, limit=limit)

    decode.__name__ = f"{codec}_decode"
    return decode


def install_batch_guard(*, limit: int = MAX_DECOMPRESSED_BATCH_BYTES) -> None:
    """Make every aiokafka and kafka-python consumer of this process decode each codec within
    ``limit`` bytes and skip (and report) batches it cannot read. Idempotent; call it before
    consumers start (it patches the clients' record modules, see the module docstring)."""
    with _lock:
        if _installed.get("limit") == limit:
            return
        import aiokafka.consumer.fetcher as aiokafka_fetcher
        import aiokafka.record.default_records as aiokafka_py_records
        import kafka.consumer.fetcher as kafka_fetcher
        import kafka.record.default_records as kafka_records

        record_modules = [aiokafka_py_records, kafka_records]
        try:
            import aiokafka.record._crecords.default_records as aiokafka_c_records

            record_modules.append(aiokafka_c_records)
        except ImportError:  # pragma: no cover  (built without its C extension)
            pass
        for module in record_modules:
            for codec in _DECODERS:
                setattr(module, f"{codec}_decode", _bounded(codec, limit))
        if "classes" not in _installed:
            aiokafka_fetcher.PartitionRecords = _aiokafka_partition_records(
                aiokafka_fetcher.PartitionRecords
            )
            kafka_fetcher.Fetcher.PartitionRecords = _kafka_python_partition_records(
                kafka_fetcher.Fetcher.PartitionRecords
            )
            _installed["classes"] = 1
        _installed["limit"] = limit
