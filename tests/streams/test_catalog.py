"""The catalog index over the cards: O(1) writes, nothing lost, same order on every worker."""

from __future__ import annotations

import random
from types import SimpleNamespace

from sortedcontainers import SortedList

from streams.catalog import CardsTable, CatalogIndex
from streams.recommendation import recommend


def _card(emotion: str, theme: int) -> dict:
    return {"metadata": {}, "object_key": "k", "emotion": emotion, "theme_id": theme}


def _changelog(key: str, value: dict | None, partition: int = 0):
    """A changelog event as Faust hands it to a table (the value already decoded)."""
    return SimpleNamespace(
        key=key, value=value, message=SimpleNamespace(value=value, partition=partition)
    )


def test_a_track_is_in_one_place_and_moves_with_its_card() -> None:
    index = CatalogIndex()
    index.place("t-2", _card("sad", 3))
    index.place("t-1", _card("sad", 3))
    index.place("t-3", _card("sad", 7))
    assert index.themes("sad") == {"3": ["t-1", "t-2"], "7": ["t-3"]}
    index.place("t-3", _card("sad", 3))  # a relabel moves it
    assert index.themes("sad") == {"3": ["t-1", "t-2", "t-3"]}
    index.place("t-1", _card("calm", 0))
    assert index.where("t-1") == ("calm", 0)
    assert index.count("sad") == 2 and index.count("calm") == 1 and len(index) == 3
    index.place("t-2", None)  # a deleted card
    assert index.themes("sad") == {"3": ["t-3"]} and index.where("t-2") is None
    assert index.themes("angry") == {}


def test_the_order_does_not_depend_on_the_arrival_order() -> None:
    cards = {f"t-{i}": _card("happy", i % 4) for i in range(200)}
    orders = []
    for seed in (1, 2):
        index = CatalogIndex()
        keys = list(cards)
        random.Random(seed).shuffle(keys)
        for key in keys:
            index.place(key, cards[key])
        orders.append({t: list(ids) for t, ids in index.themes("happy").items()})
    assert orders[0] == orders[1]


def test_the_cards_table_indexes_local_writes_and_changelog_batches(test_app, monkeypatch) -> None:
    cards = test_app.moodstream.tables.cards
    assert isinstance(cards, CardsTable)
    sent = []

    def send_changelog(partition, key, value, **kwargs):  # no broker in unit tests
        sent.append((key, value))
        return SimpleNamespace(message=SimpleNamespace(partition=0))

    monkeypatch.setattr(cards, "send_changelog", send_changelog)
    cards["t-1"] = _card("sad", 1)  # a local write: one changelog record of one card
    assert sent == [("t-1", _card("sad", 1))]
    cards.apply_changelog_batch(
        [
            _changelog("t-2", _card("sad", 1), partition=3),  # another worker's label
            _changelog("t-1", _card("sad", 4), partition=1),  # a relabel of t-1
            _changelog("t-3", _card("angry", 0), partition=2),
            _changelog("t-3", None, partition=2),  # deleted in the same batch
        ]
    )
    assert cards.index.themes("sad") == {"1": ["t-2"], "4": ["t-1"]}
    assert cards.index.where("t-3") is None


def test_two_workers_indexing_each_others_writes_lose_nothing(test_app) -> None:
    """Each label writes its own key: interleaved writes of one emotion keep every track."""
    cards = test_app.moodstream.tables.cards
    mine = [_changelog(f"a-{i}", _card("calm", i % 5), partition=0) for i in range(300)]
    theirs = [_changelog(f"b-{i}", _card("calm", i % 5), partition=1) for i in range(300)]
    interleaved = [event for pair in zip(mine, theirs, strict=True) for event in pair]
    for start in range(0, len(interleaved), 37):
        cards.apply_changelog_batch(interleaved[start : start + 37])
    assert cards.index.count("calm") == 600
    assert all(len(ids) == 120 for ids in cards.index.themes("calm").values())


def test_a_preferred_theme_playlist_reads_a_large_pool_in_place() -> None:
    """The preferred theme's tracks are drawn by position; nothing recommended twice in a round."""
    pool = SortedList(f"t-{i:06d}" for i in range(100_000))
    session = {
        "emotions": {"sad": {"preferred_theme": 2, "offered": [], "recommended": []}},
        "handled": [],
        "last": None,
    }
    seen: list[str] = []
    for n in range(5):
        session, answer = recommend(
            session, request_id=f"r-{n}", emotion="sad", themes={"2": pool, "3": ["x"]}
        )
        assert answer.step == "PREFERRED_THEME" and len(answer.track_ids) == 5
        seen += answer.track_ids
    assert len(set(seen)) == 25 and set(seen) <= set(pool)
    # Another worker, the same session and the same pool (as a plain list): the same tracks.
    replay = {**session, "handled": []}
    _, here = recommend(replay, request_id="r-9", emotion="sad", themes={"2": pool})
    _, there = recommend(replay, request_id="r-9", emotion="sad", themes={"2": list(pool)})
    assert here.track_ids == there.track_ids and not set(here.track_ids) & set(seen)


def test_a_small_preferred_theme_starts_a_new_round_when_exhausted() -> None:
    session = {
        "emotions": {"sad": {"preferred_theme": 1, "offered": [], "recommended": []}},
        "handled": [],
        "last": None,
    }
    themes = {"1": ["a", "b", "c"]}
    session, first = recommend(session, request_id="r-1", emotion="sad", themes=themes)
    assert sorted(first.track_ids) == ["a", "b", "c"]
    session, second = recommend(session, request_id="r-2", emotion="sad", themes=themes)
    assert sorted(second.track_ids) == ["a", "b", "c"]  # a new round, not an empty playlist
