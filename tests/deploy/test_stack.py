"""The local stack's lifecycle on a private instance (own ports and state folder)."""

from __future__ import annotations

import io
import os

import pytest
from minio import Minio

from deploy.exceptions import MissingToolError
from deploy.local.stack import stack_down, stack_status, stack_up
from streams.worker_process import free_port
from tests.integration.kafka_helpers import consume, producer

pytestmark = pytest.mark.integration


@pytest.fixture()
def private_stack(local_stack, tmp_path):
    """A second stack beside the shared one; torn down at the end."""
    settings = local_stack.replace(
        home=tmp_path / "stack",
        kafka_bootstrap=f"127.0.0.1:{free_port()}",
        kafka_controller_port=free_port(),
        s3_endpoint=f"127.0.0.1:{free_port()}",
        s3_console_port=free_port(),
    )
    yield settings
    stack_down(settings.stack)


def test_up_twice_then_down_up_keeps_data(private_stack) -> None:
    settings = private_stack
    first = stack_up(settings.stack)
    assert all(row.healthy for row in first)
    again = stack_up(settings.stack)  # idempotent: same processes, nothing rebuilt
    assert [row.pid for row in again] == [row.pid for row in first]

    client = Minio(settings.s3_endpoint, access_key=settings.s3_access_key,
                   secret_key=settings.s3_secret_key, secure=False)  # fmt: skip
    client.put_object(settings.bucket_audio, "keep.bin", io.BytesIO(b"kept bytes"), 10)
    prod = producer(settings)
    prod.send("keep", value=b"kept message").get(timeout=30)
    prod.close()

    assert sorted(stack_down(settings.stack)) == ["kafka", "minio"]
    assert not any(row.pid for row in stack_status(settings.stack))

    restarted = stack_up(settings.stack)
    assert all(row.healthy for row in restarted)
    assert client.get_object(settings.bucket_audio, "keep.bin").read() == b"kept bytes"
    messages = consume(settings, "keep", until=lambda m: len(m) >= 1)
    assert [m.value for m in messages] == [b"kept message"]


def test_missing_tool_is_named(local_stack, tmp_path, monkeypatch) -> None:
    settings = local_stack.replace(cache=tmp_path / "empty-cache", home=tmp_path / "h")
    monkeypatch.setenv("PATH", str(tmp_path))  # no java, mvn or go
    with pytest.raises(MissingToolError, match="'mvn' is not on PATH; install Apache Maven"):
        from deploy.local.stack import ensure_kafka_jars

        ensure_kafka_jars(settings.stack)
    assert os.environ["PATH"] == str(tmp_path)
