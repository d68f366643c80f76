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


def declare_tables(app: faust.App) -> Tables:
    """Declare every table on ``app``."""
    return Tables(
        tracks=app.Table(
            "tracks",
            default=None,
            schema=_JSON_BY_ID,
            help="Registered tracks by id.",
        ),
    )
