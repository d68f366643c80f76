"""Partitioner-proof input (issue 20): whatever partition a producer chose, every clip and piece
of feedback is forwarded, unchanged and in order, to the listener's one session partition."""

from __future__ import annotations

import pytest

from schemas.codec import codec_for
from streams.routing import partition_for_user
from tests.schemas.samples import SAMPLE_EVENTS
from tests.streams.conftest import until

FEEDBACK = codec_for("UserFeedback")
USERS = [f"listener-{i}" for i in range(50)] + ["ann", "Zoë", "用户"]


def test_the_session_partition_is_where_faust_and_the_java_client_put_the_key() -> None:
    from aiokafka.partitioner import DefaultPartitioner as Aiokafka  # Faust's producer, tables
    from kafka.partitioner.default import murmur2

    partitions = list(range(12))
    for user in USERS:
        key = user.encode()
        expected = (murmur2(key) & 0x7FFFFFFF) % 12  # kafka-python and the Java client
        assert partition_for_user(user, 12) == expected
        assert Aiokafka()(key, partitions, partitions) == expected


@pytest.fixture()
def forwarded(test_app, monkeypatch) -> list[dict]:
    """What the feedback router sends to feedback.by-user: key, value, partition."""
    sent: list[dict] = []

    async def capture(*, key, value, partition=None, **_):
        sent.append({"key": key, "value": value, "partition": partition})

    monkeypatch.setattr(test_app.moodstream.topics.feedback_by_user, "send", capture)
    return sent


@pytest.mark.asyncio
async def test_feedback_with_any_key_reaches_its_listener_s_partition_in_order(
    test_app, forwarded, letters
) -> None:
    n = test_app.moodstream.settings.partitions
    events = [
        dict(SAMPLE_EVENTS["UserFeedback"], user_id=user, feedback_id=f"f-{i}")
        for i, user in enumerate(("ann", "bob") * 3)
    ]
    async with test_app.moodstream.agents["route_feedback"].test_context() as agent:
        for i, event in enumerate(events):
            # No key, a key of something else, another user's key: all the same. (Producers'
            # own partitions, and clips, are exercised on the real broker in
            # tests/integration/test_pipeline.py: a librdkafka producer and a partition named
            # by hand.)
            await agent.put(FEEDBACK.encode(event), key=[None, b"session-9", b"ann"][i % 3])
        await until(lambda: len(forwarded) == len(events))
    assert letters == []
    for event, sent in zip(events, forwarded, strict=True):
        assert sent["key"] == event["user_id"].encode()
        assert sent["partition"] == partition_for_user(event["user_id"], n)
        assert sent["value"] == FEEDBACK.encode(event)  # bytes unchanged
    ann = [FEEDBACK.decode(s["value"])["feedback_id"] for s in forwarded if s["key"] == b"ann"]
    assert ann == [e["feedback_id"] for e in events if e["user_id"] == "ann"]  # her order


@pytest.mark.asyncio
async def test_feedback_is_routed_and_an_event_without_a_user_is_dead_lettered(
    test_app, forwarded, letters
) -> None:
    n = test_app.moodstream.settings.partitions
    good = dict(SAMPLE_EVENTS["UserFeedback"], user_id="ann")
    async with test_app.moodstream.agents["route_feedback"].test_context() as agent:
        await agent.put(b"not avro at all", key=b"ann")
        await agent.put(FEEDBACK.encode(good), key=None)
        await until(lambda: forwarded and letters)
    (sent,) = forwarded
    assert (sent["key"], sent["partition"]) == (b"ann", partition_for_user("ann", n))
    (letter,) = letters
    assert letter["service"] == "route_feedback" and letter["error_kind"] == "SerializationError"
