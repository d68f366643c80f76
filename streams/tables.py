"""The app's state tables, each backed by a compacted changelog topic.

Values are JSON documents (plain dicts); keys are ids as strings. A worker that loses its local
store (a new machine, a wiped disk) rebuilds every table from its changelog on start.
"""

from __future__ import annotations

from dataclasses import dataclass

import faust

__all__ = ["Tables", "declare_tables"]

#: str keys stored as raw UTF-8, dict values stored as JSON.
_JSON_BY_ID = faust.Schema(key_type=str, key_serializer="raw", value_serializer="json")


@dataclass(frozen=True)
class Tables:
    """The app's tables."""

    tracks: faust.types.TableT
    """track id -> the track's registration (TrackDiscovered as a dict), later its labels."""
    sessions: faust.types.TableT
    """user id -> the user's recommendation session (keyed like voice.clips and feedback)."""
    catalog: faust.types.TableT
    """Global: emotion -> {theme id: [track ids]}."""
    cards: faust.types.TableT
    """Global: track id -> what a playlist shows (metadata, object key, emotion, theme)."""


def declare_tables(app: faust.App) -> Tables:
    """Declare every table on ``app``."""
    return Tables(
        tracks=app.Table(
            "tracks",
            default=None,
            schema=_JSON_BY_ID,
            help="Registered tracks by id.",
        ),
        sessions=app.Table(
            "sessions", default=None, schema=_JSON_BY_ID, help="Recommendation sessions by user."
        ),
        # Every worker answers for any emotion, so the catalog is global (each worker reads all
        # of its changelog). Keyed writes go to the key's changelog partition.
        catalog=app.GlobalTable(
            "catalog",
            default=None,
            schema=_JSON_BY_ID,
            use_partitioner=True,
            help="Track ids by emotion and theme.",
        ),  # fmt: skip
        cards=app.GlobalTable(
            "cards",
            default=None,
            schema=_JSON_BY_ID,
            use_partitioner=True,
            help="Playlist cards by track id.",
        ),  # fmt: skip
    )
