"""Faust's Kafka consumer with one fix: a partition nobody has committed yet is read from its start.

The bug it fixes (faust-streaming 0.15 on aiokafka 0.14): during a rebalance the fetcher can hand
Faust records of a newly assigned partition that Faust then drops (the generation changed, or the
partition is not active yet). Faust's answer is to seek every stream partition back to its
committed offset once recovery is done. aiokafka's ``seek_to_committed`` only seeks when the
committed offset is a positive number, so a partition whose group has never committed (or
committed 0) stays where the dropped fetch left it: past records that were never processed.

It also passes over record batches that cannot be read (:mod:`streams.record_batches`): a
skipped batch moves the hole guard's expected offset past it, and once its dead letter is sent
its offsets are acknowledged like handled events, so the committed offset moves past it too.

That is what lost requests when a worker was killed before its first commit: the survivor took
over the partitions, fetched their clips during the rebalance, dropped them, and went on from the
end of the log. Here such partitions are rewound to offset 0 (the broker moves a position below
the log start up to it, ``auto_offset_reset=earliest``); replays are harmless because every agent
is idempotent by id.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Set

import faust
from aiokafka.errors import IllegalStateError
from faust.transport.drivers.aiokafka import Consumer as AIOKafkaConsumer
from faust.types import TP
from faust.types.tuples import ack_lock

from streams.deadletter import DeadLetterPolicy
from streams.record_batches import SkippedBatch, install_batch_guard, on_skipped_batch

__all__ = [
    "RewindingConsumer",
    "use_rewinding_consumer",
    "partition_lag",
    "dead_letter_skipped_batches",
]

logger = logging.getLogger(__name__)


class RewindingConsumer(AIOKafkaConsumer):
    """Seeks uncommitted stream partitions to offset 0 where aiokafka would leave them, and
    reads again any records a rebalance skipped (:meth:`check_in_order`)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        #: Per stream partition, the offset the next event must have: the committed offset
        #: after a rebalance, then one past each event handed to an agent.
        self.expected_offsets: dict[TP, int] = {}
        self._sought_for: dict[TP, int] = {}
        self._last_event_at: dict[TP, float] = {}
        #: Topics whose agents go without the guard (transactional: see check_in_order).
        self.unguarded_topics: set[str] = set()

    async def seek_to_committed(self) -> Mapping[TP, int]:
        """Seek every assigned partition to its committed offset, and uncommitted ones to 0."""
        committed = await super().seek_to_committed()
        for tp, offset in committed.items():
            if self._is_changelog_tp(tp) or tp.topic in self.unguarded_topics:
                continue
            if not offset:
                logger.debug("no committed offset for %s: reading it from the start", tp)
                await self._seek(tp, 0)
            self.expected_offsets[tp] = offset or 0
            self._last_event_at[tp] = time.monotonic()
        return committed

    async def on_partitions_revoked(self, revoked: Set[TP]) -> None:
        for tp in revoked:
            self.expected_offsets.pop(tp, None)
            self._sought_for.pop(tp, None)
            self._last_event_at.pop(tp, None)
        await super().on_partitions_revoked(revoked)

    async def check_in_order(self, tp: TP, offset: int) -> bool:
        """Whether the event at ``offset`` of ``tp`` may be handled now.

        False when records before it were skipped (Faust can drop the records of a partition
        it was just given, once their position has moved past them, so that the partition goes
        on after a hole): the partition is then sought back to the first missing offset, and
        the events fetched before the seek are passed over until the first record at or after
        that offset comes again; it is handled, and the partition goes on in order from it.
        Replays (an offset at or below the expected one) are handled; every agent is idempotent.

        Topics written in transactions have markers between records, holes without records:
        their agents do not call this (it would cost a seek per transaction).
        """
        self._last_event_at[tp] = time.monotonic()
        waiting_for = self._sought_for.get(tp)
        if waiting_for is not None:
            if offset > waiting_for:
                return False  # fetched before the seek: it comes again
            del self._sought_for[tp]  # the first record at or after the hole's start
            self.expected_offsets[tp] = offset + 1
            return True
        expected = self.expected_offsets.get(tp)
        if expected is not None and offset > expected:
            earliest = (await self.earliest_offsets(tp)).get(tp, 0) or 0
            start = max(expected, earliest)
            if offset > start:
                logger.warning(
                    "%s: offsets %d..%d were not handed to the agent; reading them again",
                    tp, start, offset - 1,
                )  # fmt: skip
                self._sought_for[tp] = offset
                await self.seek(tp, start)
                return False
        self.expected_offsets[tp] = offset + 1
        return True

    def pass_over(self, skipped: SkippedBatch) -> bool:
        """Move the hole guard past a batch the client skipped; whether the batch's partition
        is this consumer's (the caller then dead-letters it and calls :meth:`ack_skipped`).

        Runs on the app's event loop before the records that follow the batch reach an agent:
        without it the guard would take the batch for a hole and seek back into it forever."""
        tp = TP(skipped.topic, skipped.partition)
        if tp not in self.expected_offsets:
            return tp in self.assignment()  # a changelog or unguarded topic of ours, or not ours
        expected = self.expected_offsets[tp]
        if skipped.first_offset <= expected <= skipped.last_offset:
            self.expected_offsets[tp] = skipped.last_offset + 1
        waiting_for = self._sought_for.get(tp)
        if waiting_for is not None and skipped.first_offset <= waiting_for:
            self._sought_for[tp] = max(waiting_for, skipped.last_offset + 1)
        self._last_event_at[tp] = time.monotonic()
        return True

    def ack_skipped(self, skipped: SkippedBatch) -> None:
        """Acknowledge a skipped batch's offsets as if its records were handled (they were:
        dead-lettered), so the committed offset moves past it and a restart does not meet it
        again. Mirrors Faust's ``Consumer.ack`` for a range of offsets."""
        tp = TP(skipped.topic, skipped.partition)
        if not self.app.topics.acks_enabled_for(tp.topic):
            return
        with ack_lock:
            committed = self._committed_offset[tp]
            acked_index, acked = self._acked_index[tp], self._acked[tp]
            for offset in range(skipped.first_offset, skipped.last_offset + 1):
                if (committed is None or offset >= committed) and offset not in acked_index:
                    acked_index.add(offset)
                    acked.append(offset)
                    self._n_acked += 1

    async def rewind_silent_holes(self, idle_s: float) -> list[TP]:
        """Seek back the partitions that went silent after a hole; return them.

        The hole check of :meth:`check_in_order` needs an event after the hole. When Faust drops
        every record a partition has (they were all written before it took the partition over),
        none comes: the partition's position is past the next expected offset, and no event has
        arrived for ``idle_s``. Such a partition is sought back to the expected offset. (A slow
        event can look the same; the seek then costs a replay, which the agents skip by id.)
        """
        now = time.monotonic()
        rewound = []
        for tp, expected in list(self.expected_offsets.items()):
            if tp in self._sought_for or now - self._last_event_at.get(tp, now) < idle_s:
                continue
            if tp not in self.expected_offsets:
                continue  # revoked by a rebalance while this check awaited another partition
            try:
                position = await self.position(tp)
            except IllegalStateError:  # revoked just now: no longer ours to check
                logger.debug("%s: revoked during the silent-hole check; skipped", tp)
                continue
            if position is None or position <= expected:
                continue
            earliest = (await self.earliest_offsets(tp)).get(tp, 0) or 0
            start = max(expected, earliest)  # retention may have deleted what was expected
            if position > start:
                logger.warning(
                    "%s: offsets %d..%d were not handed to the agent; reading them again",
                    tp, start, position - 1,
                )  # fmt: skip
                await self.seek(tp, start)
                self._last_event_at[tp] = now
                rewound.append(tp)
        return rewound


def partition_lag(consumer: AIOKafkaConsumer, tp: TP) -> int:
    """Records of ``tp`` the agents have still to handle: its high-water mark less the next
    offset they expect (the committed offset right after a rebalance), or, on a partition
    without the hole guard, less one past the last record read.

    A partition taken over from a killed worker that had handled everything has nothing to
    read: counting from its last *read* record (none yet) reported its whole log as lag.
    """
    highwater = consumer.highwater(tp) or 0
    expected = getattr(consumer, "expected_offsets", {}).get(tp)
    if expected is None:
        read = consumer._read_offset.get(tp)  # noqa: SLF001  (Faust keeps no public figure)
        expected = 0 if read is None else read + 1
    return max(0, highwater - expected)


def use_rewinding_consumer(app: faust.App) -> None:
    """Make ``app`` create :class:`RewindingConsumer` (call before the app starts)."""
    if app._consumer is not None:  # noqa: SLF001
        raise RuntimeError("the app's consumer exists already; call this before the app starts")
    # The transport resolves its event loop lazily, so creating it here does no I/O.
    app.transport.Consumer = RewindingConsumer


def dead_letter_skipped_batches(app: faust.App, dead_letters: DeadLetterPolicy) -> None:
    """Install the batch guard (:mod:`streams.record_batches`) and, while ``app`` runs,
    dead-letter each batch its consumer skips, then acknowledge the batch's offsets.

    The guard reports from the consumer's own thread; the report is handed to the app's event
    loop, where it reaches :meth:`RewindingConsumer.pass_over` before the records that follow
    the batch reach an agent."""
    install_batch_guard()

    async def dead_letter(skipped: SkippedBatch) -> None:
        try:
            await dead_letters.send_batch(skipped, service=f"{app.conf.id} consumer")
        except Exception:  # noqa: BLE001  (logged; the batch is read again after a restart)
            logger.exception("could not dead-letter %s", skipped.describe())
            return
        app.consumer.ack_skipped(skipped)

    def on_loop(skipped: SkippedBatch) -> None:
        consumer = app.consumer
        if not isinstance(consumer, RewindingConsumer) or not consumer.pass_over(skipped):
            return  # another consumer's batch (the reply waiter's, another app's)
        asyncio.ensure_future(dead_letter(skipped))  # once: the policy letters a batch once

    @app.task
    async def watch_skipped_batches() -> None:
        loop = asyncio.get_running_loop()
        stop = on_skipped_batch(lambda skipped: loop.call_soon_threadsafe(on_loop, skipped))
        try:
            await asyncio.Event().wait()  # until the worker stops (the task is cancelled)
        finally:
            stop()
