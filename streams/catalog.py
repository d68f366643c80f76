"""The catalog: labelled tracks by emotion and theme, kept as one small record per track.

Each labelled track is one entry of the global ``cards`` table (track id -> what a playlist
shows, with the track's emotion and theme). Labelling a track writes its card and nothing else:
a changelog record of a few hundred bytes whatever the catalog's size, and two workers labelling
tracks at once write different keys, so neither loses the other's entry.

"Tracks of emotion E, theme T" is an index that every worker derives from the cards as they are
written locally or read from the changelog (:class:`CardsTable`). Each (emotion, theme) holds
its track ids in a sorted list: adding, moving or dropping a track costs O(log n), and a
playlist draws tracks by position, so two workers draw the same tracks for the same request
whatever order their changelog partitions arrived in.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import faust
from sortedcontainers import SortedList

__all__ = ["CatalogIndex", "CardsTable"]


class CatalogIndex:
    """emotion -> theme id -> sorted track ids, updated one card at a time."""

    def __init__(self) -> None:
        self._members: dict[str, dict[int, SortedList]] = {}
        self._placed: dict[str, tuple[str, int]] = {}

    def place(self, track_id: str, card: Mapping[str, Any] | None) -> None:
        """Record ``track_id``'s current card (None: the track left the catalog)."""
        where = None
        if card is not None and card.get("emotion") is not None:
            where = (str(card["emotion"]), int(card["theme_id"]))
        before = self._placed.get(track_id)
        if before == where:
            return
        if before is not None:
            members = self._members[before[0]][before[1]]
            members.discard(track_id)
            if not members:
                del self._members[before[0]][before[1]]
            del self._placed[track_id]
        if where is not None:
            themes = self._members.setdefault(where[0], {})
            themes.setdefault(where[1], SortedList()).add(track_id)
            self._placed[track_id] = where

    def themes(self, emotion: str) -> dict[str, Sequence[str]]:
        """The catalog of ``emotion``: theme id (as a string) -> its track ids, sorted.

        The sequences are the index's own (no copy): read them, do not keep them.
        """
        return {str(t): ids for t, ids in sorted(self._members.get(emotion, {}).items())}

    def where(self, track_id: str) -> tuple[str, int] | None:
        """``(emotion, theme id)`` of a track, or None when it is not in the catalog."""
        return self._placed.get(track_id)

    def count(self, emotion: str | None = None) -> int:
        """How many tracks the catalog holds (of ``emotion``, or in all)."""
        if emotion is None:
            return len(self._placed)
        return sum(len(ids) for ids in self._members.get(emotion, {}).values())

    def __len__(self) -> int:
        return len(self._placed)

    def __iter__(self) -> Iterator[str]:
        return iter(self._placed)


class CardsTable(faust.GlobalTable):
    """The global ``cards`` table with its :class:`CatalogIndex` (``table.index``) kept current.

    Faust calls :meth:`on_key_set`/:meth:`on_key_del` for this worker's writes and
    :meth:`apply_changelog_batch` for the changelog (every worker reads all of a global table's
    changelog, its own writes included); the index follows both.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.index = CatalogIndex()

    def on_key_set(self, key: str, value: Any) -> None:
        super().on_key_set(key, value)
        self.index.place(key, value)

    def on_key_del(self, key: str) -> None:
        super().on_key_del(key)
        self.index.place(key, None)

    def apply_changelog_batch(self, batch: Iterable[faust.EventT]) -> None:
        batch = list(batch)
        super().apply_changelog_batch(batch)
        data = self.data
        for event in batch:
            key = self._to_key(event.key)
            self.index.place(key, data.get(key))
