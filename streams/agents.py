"""The stream agents: thin coroutines that decode, call a pure function, update tables, emit.

Read an event's path top to bottom: topic -> agent -> table -> output topic. Every agent decodes
inside ``try`` and hands failures to the one :class:`~streams.deadletter.DeadLetterPolicy`.
"""

from __future__ import annotations

import logging

import faust

from schemas.codec import codec_for
from schemas.exceptions import SerializationError
from streams.deadletter import DeadLetterPolicy
from streams.registration import registration_for
from streams.tables import Tables
from streams.topics import Topics

__all__ = ["define_agents"]

logger = logging.getLogger(__name__)


def define_agents(
    app: faust.App, topics: Topics, tables: Tables, dead_letters: DeadLetterPolicy
) -> dict:
    """Register every agent on ``app``; return them by name (tests drive them with test_context)."""
    track_discovered = codec_for("TrackDiscovered")

    @app.agent(topics.track_discovered, name="register_tracks")
    async def register_tracks(stream: faust.StreamT) -> None:
        """tracks.discovered -> ``tracks`` table -> tracks.registered (first sighting only)."""
        async for event in stream.events():
            try:
                record = track_discovered.decode(event.value)
            except SerializationError as exc:
                await dead_letters.send(event.message, exc, service="register_tracks")
                continue
            track_id = record["track_id"]
            entry = registration_for(tables.tracks.get(track_id), record)
            if entry is None:
                logger.debug("track %s already registered; skipped", track_id)
                continue
            # Emit before recording: a crash in between re-emits (deduped downstream by track
            # id) rather than recording a track that was never forwarded.
            await topics.track_registered.send(key=track_id.encode(), value=event.value)
            tables.tracks[track_id] = entry

    return {"register_tracks": register_tracks}
