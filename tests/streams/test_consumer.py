"""The rewinding consumer: uncommitted stream partitions are read from offset 0 after a seek-back,
and records a rebalance skipped are read again.

The end-to-end proof is ``tests/integration/test_scale_out.py`` (a killed worker's clips are all
answered); these tests pin which partitions are rewound.
"""

from __future__ import annotations

import pytest
from faust.types import TP

from streams.consumer import RewindingConsumer, use_rewinding_consumer


class _FakeThread:
    """Stands in for the aiokafka thread: reports committed offsets, records seeks."""

    def __init__(self, committed: dict) -> None:
        self.committed = committed
        self.seeks: list[tuple[TP, int]] = []

    async def seek_to_committed(self) -> dict:
        return dict(self.committed)

    def seek(self, tp: TP, offset: int) -> None:
        self.seeks.append((tp, offset))


def test_the_app_builds_the_rewinding_consumer(test_app):
    assert isinstance(test_app.consumer, RewindingConsumer)


def test_installing_after_the_consumer_exists_is_refused(test_app):
    test_app.consumer  # noqa: B018  (creates it)
    with pytest.raises(RuntimeError, match="before the app starts"):
        use_rewinding_consumer(test_app)


@pytest.mark.asyncio
async def test_only_uncommitted_stream_partitions_are_rewound(test_app):
    consumer = test_app.consumer
    clips = test_app.moodstream.topics.voice_clips.get_topic_name()
    changelog = test_app.moodstream.tables.sessions.changelog_topic.get_topic_name()
    never, zero, committed = TP(clips, 0), TP(clips, 1), TP(clips, 2)
    table_tp = TP(changelog, 0)
    thread = _FakeThread({never: None, zero: 0, committed: 7, table_tp: None})
    consumer._thread = thread

    result = await consumer.seek_to_committed()

    assert result == {never: None, zero: 0, committed: 7, table_tp: None}
    # aiokafka already sought ``committed`` to 7; changelogs belong to table recovery.
    assert sorted(thread.seeks) == sorted([(never, 0), (zero, 0)])


async def _after_rebalance(test_app, committed: dict, log_start: int = 0) -> _FakeThread:
    """The app's consumer just after a rebalance's seek to ``committed`` (seeks then cleared)."""
    consumer = test_app.consumer
    thread = _FakeThread(committed)
    consumer._thread = thread

    async def earliest_offsets(*tps):
        return {tp: log_start for tp in tps}

    consumer.earliest_offsets = earliest_offsets
    await consumer.seek_to_committed()
    thread.seeks.clear()
    return thread


@pytest.mark.asyncio
async def test_records_skipped_after_a_rebalance_are_read_again(test_app):
    """The theme-owner run in the suite lost offsets 11..17 of a partition it took over:
    the first event it was handed was 18, with 11 committed."""
    clips = test_app.moodstream.topics.voice_clips.get_topic_name()
    taken_over, fresh = TP(clips, 2), TP(clips, 3)
    thread = await _after_rebalance(test_app, {taken_over: 11, fresh: None})
    consumer = test_app.consumer

    assert not await consumer.check_in_order(taken_over, 18)  # a hole: sought back, not handled
    assert thread.seeks == [(taken_over, 11)]
    assert [await consumer.check_in_order(taken_over, o) for o in range(11, 19)] == [True] * 8
    assert await consumer.check_in_order(taken_over, 15)  # a replay is handled (idempotent)
    assert await consumer.check_in_order(fresh, 0) and await consumer.check_in_order(fresh, 1)
    assert thread.seeks == [(taken_over, 11)]


@pytest.mark.asyncio
async def test_a_hole_below_the_log_start_is_not_a_hole(test_app):
    """Retention deleted the records below 40: the partition starts there."""
    tp = TP(test_app.moodstream.topics.voice_clips.get_topic_name(), 0)
    thread = await _after_rebalance(test_app, {tp: None}, log_start=40)
    assert await test_app.consumer.check_in_order(tp, 40) and thread.seeks == []


@pytest.mark.asyncio
async def test_events_fetched_before_the_seek_wait_for_the_hole(test_app):
    """After the seek, the events already fetched behind the hole are passed over (no second
    seek) until the hole's first record arrives; from there the partition goes on in order."""
    tp = TP(test_app.moodstream.topics.feedback.get_topic_name(), 1)
    thread = await _after_rebalance(test_app, {tp: 5})
    consumer = test_app.consumer
    assert not await consumer.check_in_order(tp, 9)  # the hole 5..8: sought back to 5
    assert not await consumer.check_in_order(tp, 10)  # fetched before the seek: comes again
    assert not await consumer.check_in_order(tp, 11)
    assert [await consumer.check_in_order(tp, o) for o in range(5, 12)] == [True] * 7
    assert thread.seeks == [(tp, 5)]


@pytest.mark.asyncio
async def test_a_partition_silent_after_a_hole_is_sought_back(test_app):
    """The 3-worker theme run: a partition taken over at committed offset 15 whose records
    were all dropped; its position was at the end (57) and no event ever came."""
    silent, busy = (
        TP(test_app.moodstream.topics.track_classified.get_topic_name(), p) for p in (1, 2)
    )
    thread = await _after_rebalance(test_app, {silent: 15, busy: 3})
    consumer = test_app.consumer
    positions = {silent: 57, busy: 9}

    async def position(tp):
        return positions[tp]

    consumer.position = position
    assert await consumer.rewind_silent_holes(idle_s=60.0) == []  # not silent long enough
    assert await consumer.check_in_order(busy, 3)  # busy's events keep coming
    assert await consumer.rewind_silent_holes(idle_s=0.0) == [silent, busy]
    assert thread.seeks == [(silent, 15), (busy, 4)]
    positions[busy] = 4  # at its next expected offset: nothing missing
    thread.seeks.clear()
    assert await consumer.rewind_silent_holes(idle_s=0.0) == [silent]


@pytest.mark.asyncio
async def test_a_silent_partition_whose_records_expired_is_left_alone(test_app):
    """Retention deleted everything below 40 and nothing new came: no hole, no seek loop."""
    tp = TP(test_app.moodstream.topics.feedback.get_topic_name(), 0)
    thread = await _after_rebalance(test_app, {tp: None}, log_start=40)

    async def position(_tp):
        return 40

    test_app.consumer.position = position
    assert await test_app.consumer.rewind_silent_holes(idle_s=0.0) == []
    assert thread.seeks == []


@pytest.mark.asyncio
async def test_lag_counts_from_what_the_agents_expect_not_from_what_was_read(test_app):
    """A partition taken over from a killed worker that had handled all of it has no lag, though
    nothing of it has been read here yet (the scale-out test saw lag 7 and 8 on two such
    partitions with every request answered)."""
    from streams.consumer import partition_lag

    clips = test_app.moodstream.topics.voice_clips.get_topic_name()
    done, behind = TP(clips, 0), TP(clips, 1)
    await _after_rebalance(test_app, {done: 7, behind: 2})
    consumer = test_app.consumer
    consumer.highwater = {done: 7, behind: 9}.get
    assert partition_lag(consumer, done) == 0
    assert partition_lag(consumer, behind) == 7
    assert await consumer.check_in_order(behind, 2) and await consumer.check_in_order(behind, 3)
    assert partition_lag(consumer, behind) == 5
    # A partition without the guard counts from its last record read.
    unguarded = TP("somewhere.else", 0)
    consumer._read_offset[unguarded] = 4
    consumer.highwater = {unguarded: 10}.get
    assert partition_lag(consumer, unguarded) == 5


@pytest.mark.asyncio
async def test_a_partition_revoked_during_the_silent_hole_check_is_skipped(test_app):
    """The 3-worker theme run, 2026-11-30: a rebalance revoked a partition while the check
    awaited another one; asking its position raised IllegalStateError out of the timer, and
    the worker stopped."""
    from aiokafka.errors import IllegalStateError

    revoked, kept, gone = (
        TP(test_app.moodstream.topics.track_features.get_topic_name(), p) for p in (1, 2, 3)
    )
    thread = await _after_rebalance(test_app, {revoked: 5, kept: 5, gone: 5})
    consumer = test_app.consumer

    async def position(tp):
        if tp == revoked:
            await consumer.on_partitions_revoked({gone})  # a rebalance while we wait
            raise IllegalStateError(f"Partition {tp} is not assigned")
        return 9

    consumer.position = position
    assert await consumer.rewind_silent_holes(idle_s=0.0) == [kept]
    assert thread.seeks == [(kept, 5)]
