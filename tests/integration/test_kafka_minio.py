"""The real servers: Avro events through Kafka, bytes through MinIO."""

from __future__ import annotations

import hashlib
import io
import os

import pytest
from minio import Minio

from schemas.codec import codec_for
from tests.integration.kafka_helpers import consume, create_topics, producer
from tests.schemas.samples import SAMPLE_EVENTS

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("name", sorted(SAMPLE_EVENTS))
def test_avro_round_trip_through_kafka(isolated, name) -> None:
    topic = isolated.topic("roundtrip")
    create_topics(isolated, [topic], partitions=1)
    codec = codec_for(name)
    prod = producer(isolated)
    prod.send(topic, key=b"k", value=codec.encode(SAMPLE_EVENTS[name])).get(timeout=30)
    prod.close()
    messages = consume(isolated, topic, until=lambda m: len(m) >= 1)
    assert len(messages) == 1
    decoded = codec.decode(messages[0].value)
    for key, value in SAMPLE_EVENTS[name].items():
        assert decoded[key] == value


def _client(settings) -> Minio:
    return Minio(
        settings.s3_endpoint,
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key,
        secure=settings.s3_secure,
    )


def test_minio_objects_read_back_byte_identical(isolated) -> None:
    client = _client(isolated)
    payload = os.urandom(3 * 1024 * 1024 + 17)  # multi-part sized, odd length
    key = f"tests/{isolated.topic_prefix}/blob.bin"
    client.put_object(isolated.bucket_audio, key, io.BytesIO(payload), len(payload))
    response = client.get_object(isolated.bucket_audio, key)
    try:
        back = response.read()
    finally:
        response.close()
        response.release_conn()
    assert hashlib.sha256(back).digest() == hashlib.sha256(payload).digest()
    client.remove_object(isolated.bucket_audio, key)


def test_stack_buckets_exist_and_audio_is_versioned(local_stack) -> None:
    client = _client(local_stack)
    for bucket in local_stack.buckets:
        assert client.bucket_exists(bucket), bucket
    assert client.get_bucket_versioning(local_stack.bucket_audio).status == "Enabled"
