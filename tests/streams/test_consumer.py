"""The rewinding consumer: uncommitted stream partitions are read from offset 0 after a seek-back.

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
