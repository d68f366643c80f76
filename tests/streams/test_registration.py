"""The registration agent: first sighting wins, duplicates are dropped, garbage is dead-lettered."""

from __future__ import annotations

import pytest

from schemas.codec import codec_for
from streams.registration import registration_for
from tests.schemas.samples import SAMPLE_EVENTS

DISCOVERED = SAMPLE_EVENTS["TrackDiscovered"]


def test_registration_for_new_and_known_tracks() -> None:
    entry = registration_for(None, DISCOVERED)
    assert entry == {"status": "registered", "discovered": DISCOVERED}
    assert registration_for(entry, DISCOVERED) is None


@pytest.mark.asyncio
async def test_agent_registers_once_and_forwards_once(test_app, monkeypatch) -> None:
    parts = test_app.moodstream
    sent = []

    async def fake_send(*, key, value, **_):  # the output topic, observed
        sent.append((key, value))

    monkeypatch.setattr(parts.topics.track_registered, "send", fake_send)
    data = codec_for("TrackDiscovered").encode(DISCOVERED)
    async with parts.agents["register_tracks"].test_context() as agent:
        await agent.put(data, key=b"t-0001")
        await agent.put(data, key=b"t-0001")  # a replay
    assert parts.tables.tracks["t-0001"]["discovered"]["metadata"]["title"] == "Nocturne"
    assert sent == [(b"t-0001", data)]


@pytest.mark.asyncio
async def test_agent_dead_letters_garbage_and_goes_on(test_app, monkeypatch) -> None:
    parts = test_app.moodstream
    letters = []

    async def fake_dlq_send(*, key, value, **_):
        letters.append(codec_for("DeadLetter").decode(value))

    async def ignore(**_):
        return None

    monkeypatch.setattr(parts.topics.dead_letters, "send", fake_dlq_send)
    monkeypatch.setattr(parts.topics.track_registered, "send", ignore)
    async with parts.agents["register_tracks"].test_context() as agent:
        await agent.put(b"not avro at all", key=b"x")
        await agent.put(codec_for("TrackDiscovered").encode(DISCOVERED), key=b"t-0001")
    assert len(letters) == 1
    assert letters[0]["error_kind"] == "SerializationError"
    assert letters[0]["payload"] == b"not avro at all"
    assert letters[0]["service"] == "register_tracks"
    assert "t-0001" in parts.tables.tracks
    assert parts.dead_letters.counts["SerializationError"] == 1
