"""Kafka cluster ids that the storage tool's argument parser accepts."""

from __future__ import annotations

import base64
import uuid

from deploy.local import stack


def test_an_id_that_would_start_with_a_dash_is_drawn_again(monkeypatch) -> None:
    dash_first = uuid.UUID(bytes=bytes([0xF8]) + bytes(15))  # base64 "-AAA..."
    assert base64.urlsafe_b64encode(dash_first.bytes).decode().startswith("-")
    plain = uuid.UUID(bytes=bytes(range(16)))
    draws = iter([dash_first, dash_first, plain])
    monkeypatch.setattr(stack.uuid, "uuid4", lambda: next(draws))

    cluster_id = stack.new_kafka_cluster_id()

    assert cluster_id == base64.urlsafe_b64encode(plain.bytes).decode().rstrip("=")
    assert len(cluster_id) == 22


def test_ids_are_22_url_safe_characters_and_differ() -> None:
    ids = {stack.new_kafka_cluster_id() for _ in range(500)}
    assert len(ids) == 500
    for cluster_id in ids:
        assert len(cluster_id) == 22 and not cluster_id.startswith("-")
        assert uuid.UUID(bytes=base64.urlsafe_b64decode(cluster_id + "=="))
