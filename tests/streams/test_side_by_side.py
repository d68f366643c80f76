"""Track batches handled side by side (issue 19): one key's events in order, the rest at once,
each event's failure its own."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from streams.stages.loops import side_by_side_by_key


def _event(key: bytes, n: int) -> SimpleNamespace:
    return SimpleNamespace(message=SimpleNamespace(key=key), n=n)


@pytest.mark.asyncio
async def test_events_of_one_key_run_in_order_and_other_keys_run_alongside() -> None:
    log: list[tuple[str, int]] = []
    running = 0
    most_at_once = 0
    focused = []

    async def handle(event) -> None:
        nonlocal running, most_at_once
        running += 1
        most_at_once = max(most_at_once, running)
        log.append(("start", event.n))
        # The first event of key a is the slowest: a's second event must still wait for it.
        await asyncio.sleep(0.05 if event.n == 0 else 0.01)
        log.append(("end", event.n))
        running -= 1

    events = [_event(b"a", 0), _event(b"b", 1), _event(b"a", 2), _event(b"c", 3)]
    failures = await side_by_side_by_key(events, focused.append, handle)
    assert failures == [None] * 4
    assert most_at_once == 3  # 0, 1 and 3 at once; 2 waits for 0
    assert log.index(("end", 0)) < log.index(("start", 2))
    assert log.index(("end", 1)) < log.index(("end", 0))  # b did not wait for a
    assert sorted(e.n for e in focused) == [0, 1, 2, 3]  # each event focused before handling


@pytest.mark.asyncio
async def test_a_failing_event_is_its_own_and_its_key_s_next_event_still_runs() -> None:
    handled = []

    async def handle(event) -> None:
        if event.n == 0:
            raise ValueError("corrupt track")
        handled.append(event.n)

    events = [_event(b"a", 0), _event(b"a", 1), _event(b"b", 2)]
    failures = await side_by_side_by_key(events, lambda e: None, handle)
    assert isinstance(failures[0], ValueError) and failures[1:] == [None, None]
    assert sorted(handled) == [1, 2]


@pytest.mark.asyncio
async def test_a_cancelled_batch_is_raised_not_returned_as_an_event_error() -> None:
    async def handle(event) -> None:
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await side_by_side_by_key([_event(b"a", 0)], lambda e: None, handle)
