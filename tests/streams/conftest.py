"""Broker-free agent tests: the app with an in-memory store, driven through test_context."""

from __future__ import annotations

import asyncio
import time

import pytest

from schemas.codec import codec_for
from streams.app import create_app
from streams.settings import Settings


@pytest.fixture()
def test_app(tmp_path):
    """A finalised app whose tables live in memory; no Kafka is contacted."""
    # Clips are read in threads: the tests' fake voice models read them (streams.clip_readers).
    settings = Settings(
        store="memory://", home=tmp_path, topic_prefix="unit", clip_read_processes=0
    )
    app = create_app(settings)
    app.finalize()
    app.flow_control.resume()
    return app


async def until(predicate, timeout_s: float = 20.0) -> None:
    """Wait until ``predicate()`` holds: ``test_context`` returns from ``put`` when the agent
    takes the event, not when its handler (which awaits threads) has finished with it."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "the agent did not get there in time"
        await asyncio.sleep(0.01)


@pytest.fixture()
def letters(test_app, monkeypatch) -> list[dict]:
    """Dead letters the app sends, decoded."""
    sent: list[dict] = []

    async def capture(*, key, value, **_):
        sent.append(codec_for("DeadLetter").decode(value))

    monkeypatch.setattr(test_app.moodstream.topics.dead_letters, "send", capture)
    return sent
