"""One owner per emotion: the theme model's online learning, checkpointed with its input offset.

The label stage sends each classified track to ``tracks.classified``, on the partition of its
emotion (:func:`emotion_partition`). Whoever holds that partition is the emotion's only learner
and reads its tracks in offset order; more workers learn more emotions at once, never two
copies of one.

After every track the owner writes the learning state (:meth:`EmotionThemes.to_snapshot`: arrays,
LDA with its random state, ids, counters, pending documents, kept tracks by features key) to
the object store under its version ``<base>+<n>`` (``base`` the promoted theme model it derives
from, ``n`` the tracks learnt since), then records the checkpoint (version, snapshot key, the
input offset it covers, the track's assignment) in the changelog-backed ``themes`` table, in
the partition of that offset. A worker that takes the partition over (a restart, ``kill -9``, a
rebalance) recovers the table, reads the snapshot, and goes on from the committed offset:
events at or below the checkpoint's offset were applied already and are not learnt again, so
the result equals an uninterrupted run (:func:`replay` is that run).

When a refit or a newly promoted model changes the themes, every track of the emotion is
assigned again and the ones that moved are relabelled (:class:`ThemeOutcome.relabels`).
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from models.themes import EmotionThemes, ThemeAssignment, ThemeModel, rebase
from schemas.emotions import EMOTIONS

__all__ = [
    "InMemorySnapshots",
    "KEPT_SNAPSHOTS",
    "SnapshotStore",
    "ThemeOutcome",
    "ThemeOwner",
    "emotion_partition",
    "replay",
    "theme_version",
]

logger = logging.getLogger(__name__)


def emotion_partition(emotion: str, partitions: int) -> int:
    """The ``tracks.classified`` partition of ``emotion``: one per emotion while there are 4 or more."""
    return EMOTIONS.index(emotion) % partitions


def theme_version(base: str, n: int) -> str:
    """The version of a derived theme state: ``<base>+<n>`` (n tracks learnt since ``base``)."""
    return f"{base}+{n}"


class SnapshotStore(Protocol):
    """Where snapshots live (the object store in a worker, a dict in a replay)."""

    def save_snapshot(self, key: str, data: bytes) -> None: ...

    def load_snapshot(self, key: str) -> bytes: ...

    def delete_snapshot(self, key: str) -> None: ...


#: Snapshots kept per emotion: the checkpoint's, and older ones in case the latest checkpoint
#: writes were still in the producer's buffer when a worker died. 8 was too few: in a full
#: test run (2026-11-30) a worker killed with SIGKILL had learnt 8 or more tracks past the
#: checkpoint that reached the changelog, had deleted that checkpoint's snapshot, and its
#: successor dead-lettered the emotion's every later track (NoSuchKey). A snapshot is 10-20 KB
#: in the tests; 64 of them per emotion cost little. Deleting only below the committed offset
#: would bound this exactly; not done yet.
KEPT_SNAPSHOTS = 64


@dataclass
class ThemeOutcome:
    """What one classified track did to its emotion's themes."""

    version: str
    """The derived state's version after the track (``<base>+<n>``)."""
    assignment: ThemeAssignment | None
    """The track's theme; None when the track was skipped (a duplicate or an applied event)."""
    checkpoint: dict | None = None
    """The new ``themes`` table value (None: unchanged)."""
    relabels: list[tuple[str, ThemeAssignment]] = field(default_factory=list)
    """Tracks of the emotion whose theme changed (a refit or a promotion), with the new one."""
    replayed: bool = False
    """True when the event was applied before (the assignment is the one recorded then)."""


def _copy(themes: EmotionThemes) -> EmotionThemes:
    """A private copy of a promoted model's class (the hub's model is shared), without the
    training tracks a freshly fitted model keeps: the registry stores none, and a snapshot
    names its kept tracks by features key."""
    copy = pickle.loads(pickle.dumps(themes, protocol=pickle.HIGHEST_PROTOCOL))  # noqa: S301
    kept = [(m, k) for m, k in zip(copy.kept, copy.kept_keys, strict=True) if k]
    copy.kept, copy.kept_keys = [m for m, _ in kept], [k for _, k in kept]
    return copy


def _assignment(record: Mapping, emotion: str) -> ThemeAssignment:
    return ThemeAssignment(
        emotion,
        int(record["theme_id"]),
        {int(t): float(w) for t, w in record["distribution"].items()},
    )


def _record(track_id: str, assignment: ThemeAssignment) -> dict:
    return {
        "track_id": track_id,
        "theme_id": assignment.theme_id,
        "distribution": {str(t): w for t, w in assignment.distribution.items()},
    }


class ThemeOwner:
    """The learning states of the emotions this worker owns, restored from their checkpoints."""

    def __init__(
        self,
        snapshots: SnapshotStore,
        load_matrix: Callable[[str], np.ndarray],
        namespace: str,
        *,
        kept_snapshots: int = KEPT_SNAPSHOTS,
    ) -> None:
        self._kept = kept_snapshots
        self._snapshots = snapshots
        self._load_matrix = load_matrix
        self._namespace = namespace
        self._live: dict[str, tuple[str, EmotionThemes]] = {}

    def _snapshot_key(self, emotion: str, version: str) -> str:
        return f"theme-state/{self._namespace}/{emotion}/{version}.pkl"

    def _state(
        self, emotion: str, checkpoint: Mapping | None, model: ThemeModel, model_version: str
    ) -> tuple[EmotionThemes, str, int, bool]:
        """(state, base, n, rebased) for the next track of ``emotion``."""
        if checkpoint is None:
            return _copy(model._class(emotion)), model_version, 0, False  # noqa: SLF001
        base, n = str(checkpoint["base"]), int(checkpoint["n"])
        version = theme_version(base, n)
        live = self._live.get(emotion)
        if live is not None and live[0] == version:
            state = live[1]
        else:
            data = self._snapshots.load_snapshot(str(checkpoint["snapshot"]))
            state = EmotionThemes.from_snapshot(data, self._load_matrix)
            logger.info("%s themes: resumed from %s", emotion, version)
        if base != model_version:  # a newly promoted model: carry the ids over
            promoted = _copy(model._class(emotion))  # noqa: SLF001
            return rebase(state, promoted), model_version, 0, True
        return state, base, n, False

    def learn(
        self,
        *,
        emotion: str,
        offset: int,
        track_id: str,
        features_key: str,
        matrix: np.ndarray,
        checkpoint: Mapping | None,
        model: ThemeModel,
        model_version: str,
        members: Callable[[], Iterable[tuple[str, str, int]]],
        known: bool = False,
    ) -> ThemeOutcome:
        """Learn from one classified track of ``emotion`` at input ``offset``.

        ``checkpoint`` is the emotion's ``themes`` table value; ``members()`` lists the
        emotion's catalog as ``(track id, features key, theme id)``; ``known`` says the catalog
        holds the track already (a duplicate: nothing is learnt).
        """
        if checkpoint is not None and offset <= int(checkpoint["offset"]):
            return self._replayed(emotion, offset, track_id, checkpoint, members)
        if known:
            if checkpoint is None:
                return ThemeOutcome(theme_version(model_version, 0), None)
            version = theme_version(str(checkpoint["base"]), int(checkpoint["n"]))
            return ThemeOutcome(version, None, checkpoint={**checkpoint, "offset": offset})
        state, base, n, rebased = self._state(emotion, checkpoint, model, model_version)
        refits = state.refits
        assignment = state.add(matrix, features_key)
        relabels: list[tuple[str, ThemeAssignment]] = []
        if rebased or state.refits != refits:  # the themes changed: assign every track again
            assignment = state.assign(matrix)
            relabels = self._relabel(state, members())
        n += 1
        version = theme_version(base, n)
        key = self._snapshot_key(emotion, version)
        self._snapshots.save_snapshot(key, state.to_snapshot())
        if n > self._kept:
            self._snapshots.delete_snapshot(
                self._snapshot_key(emotion, theme_version(base, n - self._kept))
            )
        self._live[emotion] = (version, state)
        checkpoint = {
            "base": base,
            "n": n,
            "offset": offset,
            "snapshot": key,
            "next_id": state.next_id,
            "theme_ids": list(state.topic_ids),
            "last": _record(track_id, assignment),
            "relabelled": bool(relabels),
        }
        return ThemeOutcome(version, assignment, checkpoint, relabels)

    def _replayed(
        self,
        emotion: str,
        offset: int,
        track_id: str,
        checkpoint: Mapping,
        members: Callable[[], Iterable[tuple[str, str, int]]],
    ) -> ThemeOutcome:
        """An event the checkpoint covers: learnt before, so nothing is learnt again.

        The agent writes the checkpoint before the outputs, so only the checkpoint's own event
        may have lost them in a crash: that one is answered again with the recorded assignment,
        and with the relabels still due (computed on a copy, leaving the live state as an
        uninterrupted run has it).
        """
        version = theme_version(str(checkpoint["base"]), int(checkpoint["n"]))
        last = checkpoint.get("last") or {}
        if offset != int(checkpoint["offset"]) or last.get("track_id") != track_id:
            return ThemeOutcome(version, None, replayed=True)
        relabels = []
        if checkpoint.get("relabelled"):
            data = self._snapshots.load_snapshot(str(checkpoint["snapshot"]))
            relabels = self._relabel(
                EmotionThemes.from_snapshot(data, self._load_matrix), members()
            )
        return ThemeOutcome(version, _assignment(last, emotion), relabels=relabels, replayed=True)

    def _relabel(
        self, state: EmotionThemes, members: Iterable[tuple[str, str, int]]
    ) -> list[tuple[str, ThemeAssignment]]:
        moved = []
        current = set(state.topic_ids)
        for track_id, (features_key, theme_id) in sorted(_members(members).items()):
            assignment = state.assign(self._load_matrix(features_key))
            if assignment.theme_id != theme_id or theme_id not in current:
                moved.append((track_id, assignment))
        logger.info("%s themes: %d tracks relabelled", state.emotion, len(moved))
        return moved


def _members(members: Iterable) -> dict[str, tuple[str, int]]:
    """``members`` as track id -> (features key, current theme id)."""
    return {track_id: (key, int(theme_id)) for track_id, key, theme_id in members}


@dataclass
class InMemorySnapshots:
    """A :class:`SnapshotStore` in a dict: what :func:`replay` and the tests keep snapshots in."""

    data: dict[str, bytes] = field(default_factory=dict)

    def save_snapshot(self, key: str, data: bytes) -> None:
        self.data[key] = data

    def load_snapshot(self, key: str) -> bytes:
        return self.data[key]

    def delete_snapshot(self, key: str) -> None:
        self.data.pop(key, None)


def replay(
    events: Iterable[tuple[int, str, str, str]],
    model: ThemeModel,
    model_version: str,
    load_matrix: Callable[[str], np.ndarray],
) -> dict[str, tuple[str, int]]:
    """An uninterrupted owner over ``events`` ``(offset, emotion, track id, features key)`` in
    offset order: track id -> (emotion, theme id) as its catalog would hold them at the end."""
    owner = ThemeOwner(InMemorySnapshots(), load_matrix, "replay")
    catalog: dict[str, tuple[str, int, str]] = {}
    checkpoints: dict[str, dict] = {}
    for offset, emotion, track_id, features_key in events:
        outcome = owner.learn(
            emotion=emotion, offset=offset, track_id=track_id, features_key=features_key,
            matrix=load_matrix(features_key), checkpoint=checkpoints.get(emotion), model=model,
            model_version=model_version, known=track_id in catalog,
            members=lambda e=emotion: [
                (t, key, theme) for t, (em, theme, key) in catalog.items() if em == e
            ],
        )  # fmt: skip
        if outcome.checkpoint is not None:
            checkpoints[emotion] = outcome.checkpoint
        for moved, assignment in outcome.relabels:
            catalog[moved] = (emotion, assignment.theme_id, catalog[moved][2])
        if outcome.assignment is not None and not outcome.replayed:
            catalog[track_id] = (emotion, outcome.assignment.theme_id, features_key)
    return {t: (emotion, theme) for t, (emotion, theme, _) in catalog.items()}
