"""One owner per emotion: learning resumes from its checkpoint exactly; ids are never reused."""

from __future__ import annotations

import numpy as np
import pytest

from models.themes import EmotionThemes, ThemeConfig, ThemeModel
from streams.theme_owner import (
    KEPT_SNAPSHOTS,
    InMemorySnapshots,
    ThemeOwner,
    emotion_partition,
    replay,
    theme_version,
)

#: Snapshots the tests' owners keep: fewer than a run learns, so deletion is exercised.
KEPT = 8
assert KEPT < KEPT_SNAPSHOTS

CONFIG = ThemeConfig(
    codewords=24, passes=5, iterations=50, restarts=1, update_every=3, max_kept_tracks=40
)


def _matrix(rng: np.random.Generator, style: int) -> np.ndarray:
    centre = np.zeros(62, dtype=np.float32)
    centre[style * 10 : style * 10 + 10] = 3.0
    return (centre + rng.normal(size=(30, 62))).astype(np.float32)


@pytest.fixture(scope="module")
def world():
    """A base model fitted on 8 sad tracks, and 30 new sad tracks stored by key."""
    rng = np.random.default_rng(7)
    base = [_matrix(rng, i % 3) for i in range(8)]
    model = ThemeModel.fit(base, ["sad"] * len(base), CONFIG)
    store = {f"k-{i}": _matrix(rng, i % 4) for i in range(30)}
    events = [(offset, "sad", f"t-{i}", f"k-{i}") for offset, i in enumerate(range(30))]
    events.insert(12, (12, "sad", "t-3", "k-3"))  # a duplicate of a labelled track
    events = [(offset, e, t, k) for offset, (_, e, t, k) in enumerate(events)]
    return model, store, events


class _Worker:
    """The agent's bookkeeping around an owner: checkpoint first, then the outputs."""

    def __init__(self, snapshots, store, checkpoints, catalog) -> None:
        self.owner = ThemeOwner(snapshots, store.__getitem__, "test", kept_snapshots=KEPT)
        self.store, self.checkpoints, self.catalog = store, checkpoints, catalog
        self.versions: list[str] = []

    def handle(self, event, model, version, *, crash_before_outputs: bool = False) -> None:
        offset, emotion, track_id, key = event
        outcome = self.owner.learn(
            emotion=emotion, offset=offset, track_id=track_id, features_key=key,
            matrix=self.store[key], checkpoint=self.checkpoints.get(emotion), model=model,
            model_version=version, known=track_id in self.catalog,
            members=lambda: [
                (t, k, theme) for t, (e, theme, k) in self.catalog.items() if e == emotion
            ],
        )  # fmt: skip
        if outcome.checkpoint is not None:
            self.checkpoints[emotion] = outcome.checkpoint
            self.versions.append(outcome.version)
        if crash_before_outputs:
            return
        for moved, assignment in outcome.relabels:
            self.catalog[moved] = (emotion, assignment.theme_id, self.catalog[moved][2])
        if outcome.assignment is not None:
            self.catalog[track_id] = (emotion, outcome.assignment.theme_id, key)


def _themes(catalog) -> dict[str, tuple[str, int]]:
    return {t: (e, theme) for t, (e, theme, _) in catalog.items()}


def test_an_owner_killed_mid_stream_ends_where_an_uninterrupted_run_ends(world) -> None:
    model, store, events = world
    uninterrupted = replay(events, model, "themes-base", store.__getitem__)
    assert len(uninterrupted) == 30  # the duplicate counted once

    snapshots, checkpoints, catalog = InMemorySnapshots(), {}, {}
    first = _Worker(snapshots, store, checkpoints, catalog)
    for event in events[:17]:
        first.handle(event, model, "themes-base")
    # Killed after the checkpoint of event 17 was written, before its outputs were.
    first.handle(events[17], model, "themes-base", crash_before_outputs=True)
    # Another worker takes over from the last committed offset (9): events 9..17 come again.
    second = _Worker(snapshots, store, checkpoints, catalog)
    for event in events[9:]:
        second.handle(event, model, "themes-base")

    assert _themes(catalog) == uninterrupted
    assert checkpoints["sad"]["n"] == 30 and checkpoints["sad"]["offset"] == events[-1][0]
    assert second.versions[-1] == theme_version("themes-base", 30)
    # The run refitted (the class grew past twice its 8 fitted tracks) and relabelled.
    state = EmotionThemes.from_snapshot(
        snapshots.load_snapshot(checkpoints["sad"]["snapshot"]), store.__getitem__
    )
    assert state.refits >= 1 and state.seen_tracks == 38
    # Older snapshots are deleted: the checkpoint's and the few before it stay.
    assert len(snapshots.data) == KEPT


def test_theme_ids_are_never_handed_to_another_topic(world) -> None:
    """Across refits and a promotion, an id that left the live themes never comes back, and
    the listener never sees more than the model's 5 themes of an emotion."""
    model, store, events = world
    strict = ThemeConfig(**{**CONFIG.to_dict(), "match_threshold": 0.99, "refit_growth": 1.3})
    strict_model = ThemeModel.fit(
        [store[f"k-{i}"] for i in range(6)], ["sad"] * 6, strict
    )  # a small base: refits come often
    promoted = ThemeModel.fit([store[f"k-{i}"] for i in range(6, 14)], ["sad"] * 8, strict)
    snapshots, checkpoints, catalog = InMemorySnapshots(), {}, {}
    worker = _Worker(snapshots, store, checkpoints, catalog)
    live_ids: list[list[int]] = []
    for event in events:
        promoted_now = event[0] >= 20
        worker.handle(
            event,
            promoted if promoted_now else strict_model,
            "themes-new" if promoted_now else "themes-old",
        )
        live_ids.append(checkpoints["sad"]["theme_ids"])
        assert len({theme for _, theme, _ in catalog.values()}) <= 5
        assert {theme for _, theme, _ in catalog.values()} <= set(live_ids[-1])
    retired: set[int] = set()
    for before, after in zip(live_ids, live_ids[1:], strict=False):
        assert not retired & set(after), "a retired theme id came back"
        retired |= set(before) - set(after)
    assert retired, "the strict threshold should have retired some ids"
    assert checkpoints["sad"]["base"] == "themes-new"
    assert checkpoints["sad"]["next_id"] > max(max(ids) for ids in live_ids)


def test_a_snapshot_goes_on_exactly_as_the_state_it_was_taken_from(world) -> None:
    model, store, _ = world
    live = EmotionThemes.from_snapshot(
        _state_after(model, store, 5).to_snapshot(), store.__getitem__
    )
    twin = EmotionThemes.from_snapshot(live.to_snapshot(), store.__getitem__)
    for i in range(5, 15):
        a, b = live.add(store[f"k-{i}"], f"k-{i}"), twin.add(store[f"k-{i}"], f"k-{i}")
        assert (a.theme_id, a.distribution) == (b.theme_id, b.distribution)
    assert live.topic_ids == twin.topic_ids and live.next_id == twin.next_id


def _state_after(model, store, n: int) -> EmotionThemes:
    import pickle

    state = pickle.loads(pickle.dumps(model.by_emotion["sad"]))
    state.kept, state.kept_keys = [], []  # as loaded from the registry: no training tracks
    for i in range(n):
        state.add(store[f"k-{i}"], f"k-{i}")
    return state


def test_each_emotion_has_its_own_partition_when_there_are_four() -> None:
    assert sorted(emotion_partition(e, 4) for e in ("sad", "happy", "angry", "calm")) == [
        0,
        1,
        2,
        3,
    ]
    assert {emotion_partition(e, 1) for e in ("sad", "happy", "angry", "calm")} == {0}
