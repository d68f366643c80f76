"""Record batches a consumer cannot read: bounded decompression, and the skip that lets the
partition go on (streams.record_batches). The real-broker proof, a bomb sent by a producer and
the next clip answered, is in tests/integration/test_hostile_clients.py."""

from __future__ import annotations

import struct

import pytest
from aiokafka.codec import gzip_encode, lz4_encode, snappy_encode, zstd_encode
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.structs import TopicPartition
from kafka.record.util import calc_crc32c

from streams.record_batches import (
    BatchTooLargeError,
    SkippedBatch,
    decompress_bounded,
    install_batch_guard,
    on_skipped_batch,
)

PAYLOAD = b"moodstream " * 20_000  # 220 kB, compresses well
CODECS = {"gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
ENCODERS = {
    "gzip": gzip_encode,
    "snappy": snappy_encode,
    "snappy-raw": lambda data: snappy_encode(data, xerial_compatible=False),
    "lz4": lz4_encode,
    "zstd": zstd_encode,
}


@pytest.mark.parametrize("encoding", sorted(ENCODERS))
def test_every_kafka_codec_decodes_to_what_was_encoded(encoding):
    codec = encoding.split("-")[0]
    assert decompress_bounded(codec, ENCODERS[encoding](PAYLOAD)) == PAYLOAD


@pytest.mark.parametrize("encoding", sorted(ENCODERS))
def test_a_body_that_expands_past_the_limit_is_refused(encoding):
    codec = encoding.split("-")[0]
    bomb = ENCODERS[encoding](bytes(3 * 2**20))  # 3 MiB of zeros: a few KiB compressed
    assert len(bomb) < 200_000
    with pytest.raises(BatchTooLargeError, match="more than 2 MiB"):
        decompress_bounded(codec, bomb, limit=2 * 2**20)
    assert len(decompress_bounded(codec, bomb, limit=4 * 2**20)) == 3 * 2**20


def test_an_unknown_codec_and_a_truncated_body_are_errors():
    with pytest.raises(ValueError, match="unknown codec"):
        decompress_bounded("brotli", b"x")
    with pytest.raises(ValueError, match="truncated gzip"):
        decompress_bounded("gzip", gzip_encode(PAYLOAD)[:100])


def _batch(base_offset: int, values: list[bytes], codec: int = 0) -> bytes:
    builder = DefaultRecordBatchBuilder(2, codec, 0, -1, -1, -1, 2**24)
    for i, value in enumerate(values):
        builder.append(i, timestamp=1_700_000_000_000, key=b"k", value=value, headers=[])
    data = bytearray(builder.build())
    data[0:8] = struct.pack(">q", base_offset)  # the broker assigns offsets; not under the CRC
    return bytes(data)


def _with_codec_id(batch: bytes, codec_id: int) -> bytes:
    """The batch with its attributes' codec bits set to ``codec_id`` and its CRC made valid."""
    data = bytearray(batch)
    attributes = struct.unpack_from(">h", data, 21)[0]
    struct.pack_into(">h", data, 21, (attributes & ~0x07) | codec_id)
    struct.pack_into(">I", data, 17, calc_crc32c(bytes(data[21:])))
    return bytes(data)


def _read_all(raw: bytes, topic: str = "t", fetch_offset: int = 0):
    install_batch_guard()
    from aiokafka.consumer import fetcher

    skipped: list[SkippedBatch] = []
    stop = on_skipped_batch(lambda batch: skipped.append(batch) if batch.topic == topic else None)
    try:
        records = fetcher.PartitionRecords(
            TopicPartition(topic, 3), MemoryRecords(raw), [], fetch_offset, None, None, True, 0
        )
        offsets = [(r.offset, r.value) for r in records]
        return offsets, skipped, records.next_fetch_offset
    finally:
        stop()


def test_a_bomb_between_good_batches_is_skipped_and_the_rest_is_read():
    bomb = _batch(2, [bytes(70 * 2**20)], codec=CODECS["zstd"])  # 70 MiB of zeros
    raw = _batch(0, [b"a", b"b"]) + bomb + _batch(3, [b"c"], codec=CODECS["gzip"])

    offsets, skipped, position = _read_all(raw)

    assert offsets == [(0, b"a"), (1, b"b"), (3, b"c")]
    assert position == 4
    assert len(skipped) == 1
    batch = skipped[0]
    assert (batch.topic, batch.partition, batch.first_offset, batch.last_offset) == ("t", 3, 2, 2)
    assert batch.error_kind == "BatchTooLargeError"
    assert "64 MiB" in batch.reason


@pytest.mark.parametrize(
    "spoil, kind",
    [
        (lambda b: _with_codec_id(b, 6), "UnsupportedCodecError"),  # no codec has id 6
        (lambda b: b[:-1] + bytes([b[-1] ^ 0xFF]), "CorruptRecordException"),  # bad CRC
    ],
)
def test_an_unreadable_batch_is_reported_with_its_offsets(spoil, kind):
    bad = spoil(_batch(5, [b"x", b"y", b"z"], codec=CODECS["snappy"]))
    raw = _batch(4, [b"a"]) + bad + _batch(8, [b"b"])

    offsets, skipped, position = _read_all(raw, fetch_offset=4)

    assert offsets == [(4, b"a"), (8, b"b")]
    assert position == 9
    assert [(s.first_offset, s.last_offset, s.error_kind) for s in skipped] == [(5, 7, kind)]


def test_kafka_python_skips_the_same_way():
    install_batch_guard()
    from kafka.consumer.fetcher import Fetcher
    from kafka.record.memory_records import MemoryRecords as KafkaMemoryRecords
    from kafka.structs import TopicPartition as KafkaTP

    raw = (
        _batch(0, [b"a"]) + _batch(1, [bytes(70 * 2**20)], codec=CODECS["lz4"]) + _batch(2, [b"b"])
    )
    skipped: list[SkippedBatch] = []
    stop = on_skipped_batch(skipped.append)
    try:
        records = Fetcher.PartitionRecords(0, KafkaTP("kp", 0), KafkaMemoryRecords(raw))
        taken = records.take()
    finally:
        stop()

    assert [(r.offset, r.value) for r in taken] == [(0, b"a"), (2, b"b")]
    assert [(s.topic, s.first_offset, s.last_offset) for s in skipped] == [("kp", 1, 1)]
    assert records.next_fetch_offset == 3
