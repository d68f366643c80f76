"""The feedback agent under hostile input (issue 15, items 1, 5 and 7), broker-free."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from schemas.codec import codec_for
from streams.events import feedback_event
from streams.recommendation import MAX_OFFERED
from streams.tables import MAX_VALUE_BYTES
from tests.streams.conftest import until

FEEDBACK = codec_for("UserFeedback")


def _grown_session() -> dict:
    """A session as the unbounded code let it grow: ~17 MB of one track picked over and over."""
    return {
        "emotions": {
            "sad": {"preferred_theme": 2, "offered": ["t-1"], "recommended": ["t-1"] * 1_500_000}
        },
        "handled": [],
        "last": None,
    }


@pytest.mark.asyncio
async def test_refused_picks_are_dead_lettered_with_the_reason_and_the_agent_goes_on(
    test_app, letters
) -> None:
    tables = test_app.moodstream.tables
    tables.sessions.data["ann"] = {
        "emotions": {"sad": {"preferred_theme": None, "offered": ["t-1"], "recommended": []}},
        "handled": [],
        "last": None,
    }
    tables.cards.data["t-1"] = {"metadata": {}, "object_key": "k", "emotion": "sad", "theme_id": 2}
    events = [
        (b"ann", feedback_event("ann", "PICK", ["t-9"])),  # never offered
        (b"ann", feedback_event("ann", "PICK", ["t-1"] * 51)),  # too many ids
        (b"ann", feedback_event("ann", "PICK", ["t-1"] * 37_000)),  # the probe's 148 kB event
        (b"bob", feedback_event("ann", "ABANDON")),  # key of another listener
        (b"ann", feedback_event("ann", "PICK", ["t-1"])),  # fine
    ]
    async with test_app.moodstream.agents["learn_feedback"].test_context() as agent:
        for key, event in events:
            await agent.put(FEEDBACK.encode(event), key=key)
        await until(lambda: tables.sessions["ann"]["handled"])
    assert [(d["error_kind"], d["service"]) for d in letters] == [
        ("FeedbackRefusedError", "learn_feedback"),
        ("InvalidEventError", "learn_feedback"),
        ("InvalidEventError", "learn_feedback"),
        ("KeyMismatchError", "learn_feedback"),
    ]
    assert "'t-9' was not offered to this listener" in letters[0]["message"]
    assert "track_ids holds 51 ids; the limit is 50" in letters[1]["message"]
    assert "the limit is 65536 (refused undecoded)" in letters[2]["message"]
    session = tables.sessions["ann"]
    assert session["emotions"]["sad"]["preferred_theme"] == 2
    assert session["emotions"]["sad"]["recommended"] == ["t-1"]
    assert session["handled"] == [events[4][1]["feedback_id"]]


@pytest.mark.asyncio
async def test_an_oversize_stored_session_is_repaired_by_the_listener_s_next_event(
    test_app, letters
) -> None:
    tables = test_app.moodstream.tables
    tables.sessions.data["mallory"] = _grown_session()
    async with test_app.moodstream.agents["learn_feedback"].test_context() as agent:
        await agent.put(FEEDBACK.encode(feedback_event("mallory", "PICK", ["t-1"])), key=b"mallory")
        await until(lambda: tables.sessions["mallory"]["handled"])
    assert letters == []
    session = tables.sessions["mallory"]
    assert session["emotions"]["sad"]["recommended"] == ["t-1"]
    assert len(json.dumps(session)) < MAX_VALUE_BYTES["sessions"]


@pytest.mark.asyncio
async def test_a_value_over_its_table_bound_is_refused_not_written(
    test_app, letters, monkeypatch
) -> None:
    tables = test_app.moodstream.tables
    offered = [f"t-{i}" for i in range(MAX_OFFERED)]
    tables.sessions.data["ann"] = {
        "emotions": {"sad": {"preferred_theme": None, "offered": offered, "recommended": []}},
        "handled": [],
        "last": None,
    }
    monkeypatch.setitem(MAX_VALUE_BYTES, "sessions", 300)
    pick = feedback_event("ann", "PICK", offered[:40])
    async with test_app.moodstream.agents["learn_feedback"].test_context() as agent:
        await agent.put(FEEDBACK.encode(pick), key=b"ann")
        await agent.put(FEEDBACK.encode(feedback_event("ann", "ABANDON")), key=b"ann")
        await until(lambda: tables.sessions["ann"]["handled"])
    (letter,) = letters
    assert letter["error_kind"] == "StateTooLargeError"
    assert "the sessions entry of 'ann' would be" in letter["message"]
    assert tables.sessions["ann"]["emotions"] == {}  # the ABANDON after it was applied


@pytest.mark.asyncio
async def test_a_16_mib_feedback_event_does_not_stall_the_event_loop(test_app, letters) -> None:
    """One 1.5 MB feedback event stalled a worker for 18.6 s; the largest event the broker
    carries is refused off the loop while the loop keeps ticking."""
    huge = feedback_event("ann", "PICK", [f"track-{i:08d}" for i in range(1_000_000)])
    data = FEEDBACK.encode(huge)
    assert 14 * 2**20 < len(data) <= 16 * 2**20
    gaps: list[float] = []

    async def tick() -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = asyncio.ensure_future(tick())
    try:
        async with test_app.moodstream.agents["learn_feedback"].test_context() as agent:
            await agent.put(data, key=b"ann")
            await until(lambda: letters and len(gaps) >= 20)  # ticks around the refusal too
    finally:
        ticker.cancel()
    assert [d["error_kind"] for d in letters] == ["InvalidEventError"]
    assert "the limit is 65536 (refused undecoded)" in letters[0]["message"]
    # Decoding it would hold the interpreter for ~0.3 s (fastavro keeps the GIL, so a thread
    # does not help); refused by its size, the loop hardly notices. Bound with a wide margin.
    assert max(gaps) < 0.1, max(gaps)
