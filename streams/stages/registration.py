"""Registration: the first sighting of every crawled track.

- in: ``tracks.discovered`` (``TrackDiscovered``, keyed by track id; written by the crawler in
  transactions, so this topic goes without the hole guard: markers leave offsets without records)
- out: ``tracks.registered`` (the same bytes)
- table: ``tracks`` (one entry per track id)
- delivery: at least once; a track already in the table is skipped, and the event is sent before
  the table write that records it (a crash in between re-sends, deduped downstream by track id).
"""

from __future__ import annotations

import logging

import faust

from schemas.codec import codec_for
from streams import metrics
from streams.deadletter import DeadLetterPolicy
from streams.events import check_track_record
from streams.registration import registration_for
from streams.stages.loops import each_event
from streams.tables import check_bounded

__all__ = ["Registration"]

logger = logging.getLogger(__name__)


class Registration:
    """The ``register_tracks`` agent and its handling."""

    def __init__(
        self,
        discovered: faust.TopicT,
        registered: faust.TopicT,
        tracks,
        dead_letters: DeadLetterPolicy,
    ) -> None:
        self.discovered, self.registered, self.tracks = discovered, registered, tracks
        self.dead_letters = dead_letters
        self.codec = codec_for("TrackDiscovered")

    async def register(self, event: faust.EventT) -> None:
        """Record a track's first sighting and forward it; skip one already registered."""
        record = check_track_record(self.codec.decode(event.value))
        track_id = record["track_id"]
        entry = registration_for(self.tracks.get(track_id), record)
        if entry is None:
            logger.debug("track %s already registered; skipped", track_id)
            return
        check_bounded(self.tracks, track_id, entry)
        await self.registered.send(key=track_id.encode(), value=event.value)
        metrics.EVENTS_OUT.labels(topic="tracks.registered").inc()
        self.tracks[track_id] = entry

    def define(self, app: faust.App) -> dict:
        @app.agent(self.discovered, name="register_tracks")
        async def register_tracks(stream: faust.StreamT) -> None:
            """tracks.discovered -> ``tracks`` table -> tracks.registered (first sighting only)."""
            await each_event(
                stream, source="tracks.discovered", service="register_tracks",
                handle=self.register, dead_letters=self.dead_letters, guard=False,
            )  # fmt: skip

        return {"register_tracks": register_tracks}
