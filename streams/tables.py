"""The app's state tables, each backed by a compacted changelog topic.

Values are JSON documents (plain dicts); keys are ids as strings. A worker that loses its local
store (a new machine, a wiped disk) rebuilds every table from its changelog on start.

The global table ``cards`` (with the catalog index, :mod:`streams.catalog`) lives in memory and
is rebuilt from its changelog whenever a worker starts. It is written from events of any
partition, and Faust's RocksDB store files such a write under the writing event's partition: after a restart it served
whichever partition's copy of a key it opened first, an older one, and the next write made the
loss permanent. The changelog itself was always right, so reading it whole at start is the fix.

Every agent writes through :func:`put_bounded`: a value whose JSON is over its table's bound is
refused with :class:`~streams.exceptions.StateTooLargeError` (the event goes to the dead
letters) instead of reaching Kafka, where a changelog record over the broker's 16 MiB limit
made the producer, and with it the worker, fail.
"""

from __future__ import annotations

from dataclasses import dataclass

import faust
from faust.serializers import codecs

from streams.catalog import CardsTable
from streams.exceptions import StateTooLargeError

__all__ = ["Tables", "declare_tables", "check_bounded", "put_bounded", "MAX_VALUE_BYTES"]

#: The store of the global tables. The host part is there because Faust tests the store URL for
#: truth, and ``URL("memory://")`` is false: that table would quietly get the app's RocksDB.
_IN_MEMORY = "memory://global"

#: str keys stored as raw UTF-8, dict values stored as JSON.
_JSON_BY_ID = faust.Schema(key_type=str, key_serializer="raw", value_serializer="json")

#: Largest JSON value each table accepts (bytes). Sessions and tracks are bounded by
#: construction far below theirs.
MAX_VALUE_BYTES = {
    "tracks": 256 * 1024,
    "sessions": 256 * 1024,
    "cards": 64 * 1024,
    "themes": 64 * 1024,
}


@dataclass(frozen=True)
class Tables:
    """The app's tables."""

    tracks: faust.types.TableT
    """track id -> the track's registration (TrackDiscovered as a dict), later its labels."""
    sessions: faust.types.TableT
    """user id -> the user's recommendation session (keyed like voice.clips and feedback)."""
    themes: faust.types.TableT
    """emotion -> the checkpoint of its theme owner (streams.theme_owner): derived version,
    snapshot key, the tracks.classified offset it covers, the last track's assignment."""
    cards: CardsTable
    """Global: track id -> what a playlist shows (metadata, object key, emotion, theme).
    ``cards.index`` is the catalog: emotion -> theme -> track ids."""


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
        themes=app.Table(
            "themes",
            default=None,
            schema=_JSON_BY_ID,
            help="Theme owners' checkpoints by emotion (in the emotion's partition).",
        ),
        # Every worker answers for any emotion and any track, so the cards are global (each
        # worker reads all of their changelog) and carry the catalog index (streams.catalog).
        # Keyed writes go to the key's changelog partition. Faust counts every partition of a
        # partitioner-keyed global table as active *and* standby, and applies active changelog
        # events in batches of recovery_buffer_size (default 1000) even after recovery: another
        # worker's card would wait for 999 more. One at a time, they arrive as written.
        cards=app.tables.add(
            CardsTable(
                app,
                name="cards",
                default=None,
                schema=_JSON_BY_ID,
                use_partitioner=True,
                store=_IN_MEMORY,
                beacon=app.tables.beacon,
                standby_buffer_size=1,
                recovery_buffer_size=1,
                is_global=True,
                help="Playlist cards by track id (the catalog).",
            )
        ),  # fmt: skip
    )


def check_bounded(table: faust.types.TableT, key: str, value: dict) -> None:
    """Refuse ``value`` for ``table[key]`` when its JSON is over the table's bound.

    Agents call this before they send the output that a table write records, so that a refused
    value leaves neither the output nor the write behind.

    Raises
    ------
    StateTooLargeError
        The message names the table, the key and both sizes.
    """
    limit = MAX_VALUE_BYTES[table.name]
    size = len(codecs.dumps("json", value))
    if size > limit:
        raise StateTooLargeError(
            f"the {table.name} entry of {key[:128]!r} would be {size} bytes; the limit is "
            f"{limit}: the event that grew it is refused"
        )


def put_bounded(table: faust.types.TableT, key: str, value: dict) -> None:
    """``table[key] = value`` after :func:`check_bounded` (nothing is written when it refuses)."""
    check_bounded(table, key, value)
    table[key] = value
