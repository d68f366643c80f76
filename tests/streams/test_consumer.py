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


@pytest.mark.asyncio
async def test_records_skipped_after_a_rebalance_are_read_again(test_app):
    """The theme-owner run in the suite lost offsets 11..17 of a partition it took over:
    the first event it was handed was 18, with 11 committed."""
    consumer = test_app.consumer
    clips = test_app.moodstream.topics.voice_clips.get_topic_name()
    taken_over, fresh = TP(clips, 2), TP(clips, 3)
    thread = _FakeThread({taken_over: 11, fresh: None})
    consumer._thread = thread

    async def earliest_offsets(*tps):
        return {tp: 0 for tp in tps}

    consumer.earliest_offsets = earliest_offsets
    await consumer.seek_to_committed()
    thread.seeks.clear()

    assert not await consumer.check_in_order(taken_over, 18)  # a hole: sought back, not handled
    assert thread.seeks == [(taken_over, 11)]
    assert [await consumer.check_in_order(taken_over, o) for o in range(11, 19)] == [True] * 8
    assert await consumer.check_in_order(taken_over, 15)  # a replay is handled (idempotent)
    assert await consumer.check_in_order(fresh, 0) and await consumer.check_in_order(fresh, 1)
    assert thread.seeks == [(taken_over, 11)]


@pytest.mark.asyncio
async def test_a_hole_below_the_log_start_is_not_a_hole(test_app):
    """Retention deleted the records below 40: the partition starts there."""
    consumer = test_app.consumer
    clips = test_app.moodstream.topics.voice_clips.get_topic_name()
    tp = TP(clips, 0)
    consumer._thread = _FakeThread({tp: None})

    async def earliest_offsets(*tps):
        return {t: 40 for t in tps}

    consumer.earliest_offsets = earliest_offsets
    await consumer.seek_to_committed()
    assert await consumer.check_in_order(tp, 40)


@pytest.mark.asyncio
async def test_a_hole_of_transaction_markers_is_handled_after_one_look(test_app):
    """The crawler writes in transactions: offsets 1, 3, 5 are markers, not records."""
    consumer = test_app.consumer
    discovered = test_app.moodstream.topics.track_discovered.get_topic_name()
    tp = TP(discovered, 0)
    thread = _FakeThread({tp: None})
    consumer._thread = thread

    async def earliest_offsets(*tps):
        return {t: 0 for t in tps}

    consumer.earliest_offsets = earliest_offsets
    await consumer.seek_to_committed()
    thread.seeks.clear()
    assert await consumer.check_in_order(tp, 0)
    assert not await consumer.check_in_order(tp, 2)  # a hole: looked at once...
    assert await consumer.check_in_order(tp, 2)  # ...and 2 came first again: no records there
    assert not await consumer.check_in_order(tp, 4)
    assert await consumer.check_in_order(tp, 4)
    assert thread.seeks == [(tp, 1), (tp, 3)]
