"""Faust's Kafka consumer with one fix: a partition nobody has committed yet is read from its start.

The bug it fixes (faust-streaming 0.15 on aiokafka 0.14): during a rebalance the fetcher can hand
Faust records of a newly assigned partition that Faust then drops (the generation changed, or the
partition is not active yet). Faust's answer is to seek every stream partition back to its
committed offset once recovery is done. aiokafka's ``seek_to_committed`` only seeks when the
committed offset is a positive number, so a partition whose group has never committed (or
committed 0) stays where the dropped fetch left it: past records that were never processed.

That is what lost requests when a worker was killed before its first commit: the survivor took
over the partitions, fetched their clips during the rebalance, dropped them, and went on from the
end of the log. Here such partitions are rewound to offset 0 (the broker moves a position below
the log start up to it, ``auto_offset_reset=earliest``); replays are harmless because every agent
is idempotent by id.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import faust
from faust.transport.drivers.aiokafka import Consumer as AIOKafkaConsumer
from faust.types import TP

__all__ = ["RewindingConsumer", "use_rewinding_consumer"]

logger = logging.getLogger(__name__)


class RewindingConsumer(AIOKafkaConsumer):
    """Seeks uncommitted stream partitions to offset 0 where aiokafka would leave them."""

    async def seek_to_committed(self) -> Mapping[TP, int]:
        """Seek every assigned partition to its committed offset, and uncommitted ones to 0."""
        committed = await super().seek_to_committed()
        for tp, offset in committed.items():
            if not offset and not self._is_changelog_tp(tp):
                logger.debug("no committed offset for %s: reading it from the start", tp)
                await self._seek(tp, 0)
        return committed


def use_rewinding_consumer(app: faust.App) -> None:
    """Make ``app`` create :class:`RewindingConsumer` (call before the app starts)."""
    if app._consumer is not None:  # noqa: SLF001
        raise RuntimeError("the app's consumer exists already; call this before the app starts")
    # The transport resolves its event loop lazily, so creating it here does no I/O.
    app.transport.Consumer = RewindingConsumer
