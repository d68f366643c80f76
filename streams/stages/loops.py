"""What every stage's agents run: the event loop, its batch form, and side-by-side handling.

Every agent is one :func:`each_event` loop around a handler of its own: the loop counts the
event, times it, and hands any failure of the handler (a bad event, bad audio, a refused pick,
a table value over its bound, a store error) to the one
:class:`~streams.deadletter.DeadLetterPolicy`, then goes on with the next event. The batch form,
:func:`each_batch`, hands the events that are waiting to a handler at once and dead-letters
each failure alone. CPU work (audio, features, inference) runs in threads or reader processes,
never on the event loop.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Awaitable, Callable

import faust
from faust.streams import _current_event

from streams import metrics
from streams.deadletter import DeadLetterPolicy
from streams.limits import check_event_size, check_id
from streams.routing import partition_for_user

__all__ = [
    "each_event", "each_batch", "each_track_batch", "focus_on", "side_by_side_by_key",
    "user_router", "TRACK_BATCH_WAIT_S",
]  # fmt: skip

#: How long the track agents wait for more tracks to join a batch (ingest is not interactive).
TRACK_BATCH_WAIT_S = 0.05


async def each_event(
    stream: faust.StreamT,
    *,
    source: str,
    service: str,
    handle: Callable[[faust.EventT], Awaitable[None]],
    dead_letters: DeadLetterPolicy,
    guard: bool = True,
) -> None:
    """The loop every agent runs: count, time, handle; a failing event becomes a dead letter.

    With ``guard``, an event that comes after a hole in its partition waits for the hole to be
    read again (:meth:`streams.consumer.RewindingConsumer.check_in_order`).
    """
    consumer = stream.app.consumer
    in_order = getattr(consumer, "check_in_order", None) if guard else None
    if not guard and hasattr(consumer, "unguarded_topics"):
        consumer.unguarded_topics.update(getattr(stream.channel, "topics", ()))
    async for event in stream.events():
        message = event.message
        if in_order is not None and not await in_order(message.tp, message.offset):
            continue  # records before it were skipped; it comes again after them
        metrics.EVENTS_IN.labels(topic=source).inc()
        started = time.perf_counter()
        try:
            await handle(event)
        except Exception as exc:  # noqa: BLE001  (any failure of one event: dead letter, go on)
            await dead_letters.send(event.message, exc, service=service)
            continue
        elapsed = time.perf_counter() - started
        metrics.LATENCY.labels(agent=service).observe(elapsed)
        metrics.BUSY.labels(agent=service).inc(elapsed)


async def each_batch(
    stream: faust.StreamT,
    *,
    source: str | Callable[[faust.EventT], str],
    service: str,
    size: int,
    within_s: float,
    handle: Callable[
        [list[faust.EventT], Callable[[faust.EventT], None]],
        Awaitable[list[BaseException | None]],
    ],
    dead_letters: DeadLetterPolicy,
) -> None:
    """The batch form of :func:`each_event`: take up to ``size`` waiting events (waiting at
    most ``within_s`` for more), hand them to ``handle`` at once, dead-letter each event whose
    entry in the returned list is an error. Events are acknowledged only after their batch is
    handled; the hole guard checks each event as :func:`each_event` does. ``source`` names the
    events' topic in the metrics (a function of the event, for an agent that reads two).

    ``handle`` gets the batch and ``focus``: it calls ``focus(event)`` before it writes a table
    for that event. Faust files a table write under the partition of the stream's current
    event, which a batch has not got; without ``focus`` a write fails, or lands in the wrong
    partition.
    """
    consumer = stream.app.consumer
    in_order = getattr(consumer, "check_in_order", None)
    async for events in stream.take_events(size, within_s):
        batch = []
        for event in events:
            message = event.message
            if in_order is not None and not await in_order(message.tp, message.offset):
                continue  # records before it were skipped; it comes again after them
            metrics.EVENTS_IN.labels(
                topic=source if isinstance(source, str) else source(event)
            ).inc()
            batch.append(event)
        if not batch:
            continue
        metrics.BATCH_SIZE.labels(agent=service).observe(len(batch))
        started = time.perf_counter()
        token = _current_event.set(None)
        try:
            failures = await handle(batch, focus_on)
        finally:
            _current_event.reset(token)
        for event, error in zip(batch, failures, strict=True):
            if error is not None:
                await dead_letters.send(event.message, error, service=service)
        elapsed = time.perf_counter() - started
        metrics.BUSY.labels(agent=service).inc(elapsed)
        for _ in batch:  # each event waited for its whole batch
            metrics.LATENCY.labels(agent=service).observe(elapsed)


def focus_on(event: faust.EventT) -> None:
    """Make ``event`` the current event of this task, as Faust's stream loop does for each
    event it yields (``faust.streams.current_event``): tables file writes under its partition.

    Only the context variable is set: the stream's own ``current_event`` attribute belongs to
    its buffering, which runs on while a batch is handled."""
    _current_event.set(weakref.ref(event))


async def side_by_side_by_key(
    events: list[faust.EventT],
    focus: Callable[[faust.EventT], None],
    handle: Callable[[faust.EventT], Awaitable[None]],
) -> list[BaseException | None]:
    """Handle a batch's events side by side, each in a task of its own (its blocking work in
    threads, so on every core); events of one key are handled one after the other, in order.
    Each event's error, or None; a cancellation (the worker stopping) is raised."""

    async def step(event: faust.EventT, after: asyncio.Task | None) -> BaseException | None:
        if after is not None:
            await after  # never raises an event's error: steps return them
        try:
            focus(event)
            await handle(event)
        except Exception as exc:  # noqa: BLE001  (this event's failure only)
            return exc
        return None

    steps: list[asyncio.Task] = []
    latest: dict[object, asyncio.Task] = {}
    for event in events:
        key = event.message.key
        task = asyncio.ensure_future(step(event, latest.get(key)))
        latest[key] = task
        steps.append(task)
    results = await asyncio.gather(*steps, return_exceptions=True)
    for result in results:
        if isinstance(result, asyncio.CancelledError):
            raise result
    return results


def user_router(
    target: faust.TopicT, codec, what: str, limit: int, partitions: int
) -> Callable[[faust.EventT], Awaitable[None]]:
    """A handler that forwards an event, bytes unchanged, to ``target`` on its user's partition
    (:func:`streams.routing.partition_for_user`), keyed by the user id; an event over ``limit``
    bytes or without a valid user id fails (and is dead-lettered by the loop)."""

    async def route(event: faust.EventT) -> None:
        check_event_size(what, len(event.value), limit)
        user_id = codec.decode(event.value)["user_id"]
        check_id("user_id", user_id)
        await target.send(
            key=user_id.encode(),
            value=event.value,
            partition=partition_for_user(user_id, partitions),
        )

    return route


async def each_track_batch(
    stream: faust.StreamT,
    *,
    source: str,
    service: str,
    size: int,
    handle: Callable[[faust.EventT], Awaitable[None]],
    dead_letters: DeadLetterPolicy,
) -> None:
    """The ingest stages' loop: batches of up to ``size`` tracks (waiting at most
    :data:`TRACK_BATCH_WAIT_S` for more), each track handled in a task of its own
    (:func:`side_by_side_by_key`), each failure dead-lettered alone."""
    await each_batch(
        stream, source=source, service=service, size=size, within_s=TRACK_BATCH_WAIT_S,
        dead_letters=dead_letters,
        handle=lambda events, focus: side_by_side_by_key(events, focus, handle),
    )  # fmt: skip
