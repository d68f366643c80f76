"""Themes: each classified track's theme inside its emotion, from that emotion's owner.

- in: ``tracks.classified`` (``TrackClassified``, keyed by emotion, one partition per emotion)
- out: ``tracks.labelled`` (``TrackLabelled``, keyed by track id; relabels of tracks a refit
  moved are sent too, ``relabel`` true)
- tables: ``themes`` (each emotion owner's checkpoint), ``cards`` (the catalog, indexed by
  emotion and theme)
- delivery: learning happens exactly once. The owner records its checkpoint first and answers
  the checkpoint's own event again after a crash (:mod:`streams.theme_owner`); the labelled
  events and cards follow, at least once, keyed by track id.
"""

from __future__ import annotations

import asyncio
import time

import faust

from models.themes import ThemeAssignment
from schemas.codec import codec_for
from streams import metrics
from streams.deadletter import DeadLetterPolicy
from streams.events import check_track_record
from streams.model_hub import ModelHub
from streams.pipeline_io import PipelineStore
from streams.stages.loops import each_event
from streams.tables import check_bounded, put_bounded
from streams.theme_owner import ThemeOwner

__all__ = ["Themes", "labelled_event", "card_of"]


def labelled_event(
    record: dict, assignment: ThemeAssignment, version: str, *, relabel: bool
) -> dict:
    """The ``TrackLabelled`` event of a classified track and its theme."""
    return {
        "track_id": record["track_id"],
        "metadata": record["metadata"],
        "object_key": record["object_key"],
        "emotion": assignment.emotion,
        "emotion_probabilities": record["emotion_probabilities"],
        "theme_id": assignment.theme_id,
        "theme_distribution": [
            {"theme_id": t, "weight": w} for t, w in sorted(assignment.distribution.items())
        ],
        "music_model_version": record["music_model_version"],
        "theme_model_version": version,
        "feature_spec": record["feature_spec"],
        "labelled_at": int(time.time() * 1000),
        "relabel": relabel,
    }


def card_of(record: dict, assignment: ThemeAssignment) -> dict:
    """The catalog card of a classified track and its theme."""
    return {
        "metadata": record["metadata"],
        "object_key": record["object_key"],
        "features_key": record["features_key"],
        "emotion": assignment.emotion,
        "theme_id": assignment.theme_id,
        "emotion_probabilities": record["emotion_probabilities"],
        "music_model_version": record["music_model_version"],
        "feature_spec": record["feature_spec"],
    }


class Themes:
    """The ``theme_tracks`` agent and its handling."""

    def __init__(
        self, classified: faust.TopicT, labelled: faust.TopicT, themes, cards,
        store: PipelineStore, hub: ModelHub, dead_letters: DeadLetterPolicy, app_id: str,
    ) -> None:  # fmt: skip
        self.classified, self.labelled = classified, labelled
        self.themes, self.cards = themes, cards
        self.store, self.hub, self.dead_letters = store, hub, dead_letters
        self.owner = ThemeOwner(store, store.load_features, app_id)
        self.codec = codec_for("TrackClassified")
        self.labelled_codec = codec_for("TrackLabelled")

    async def publish(
        self, record: dict, assignment: ThemeAssignment, version: str, relabel: bool
    ) -> None:
        card = card_of(record, assignment)
        check_bounded(self.cards, record["track_id"], card)
        event = labelled_event(record, assignment, version, relabel=relabel)
        await self.labelled.send(
            key=record["track_id"].encode(), value=self.labelled_codec.encode(event)
        )
        metrics.EVENTS_OUT.labels(topic="tracks.labelled").inc()
        self.cards[record["track_id"]] = card

    def _members(self, emotion: str) -> list[tuple[str, str, int]]:
        """(track id, features key, theme id) of the emotion's catalog."""
        cards = self.cards
        return [
            (t, cards[t]["features_key"], int(theme_id))
            for theme_id, ids in cards.index.themes(emotion).items()
            for t in ids
            if "features_key" in cards[t]  # a card from before the owners cannot be read
        ]

    async def theme(self, event: faust.EventT) -> None:
        """The emotion's owner learns the track; its theme (and any relabels) are published."""
        record = check_track_record(self.codec.decode(event.value))
        emotion, track_id = record["emotion"], record["track_id"]
        model = await self.hub.wait_for("themes")
        checkpoint = self.themes.get(emotion)
        base = (checkpoint or {}).get("base")
        # A worker that has not seen a newer promotion yet goes on with the owner's base.
        latest = self.hub.themes_version
        version = latest if base is None or latest > base else base
        matrix = await asyncio.to_thread(self.store.load_features, record["features_key"])
        running = asyncio.get_running_loop()

        async def catalog_of_emotion() -> list[tuple[str, str, int]]:
            return self._members(emotion)

        outcome = await asyncio.to_thread(
            self.owner.learn,
            emotion=emotion,
            offset=event.message.offset,
            track_id=track_id,
            features_key=record["features_key"],
            matrix=matrix,
            checkpoint=checkpoint,
            model=model,
            model_version=version,
            members=lambda: asyncio.run_coroutine_threadsafe(
                catalog_of_emotion(), running
            ).result(),
            known=self.cards.index.where(track_id) is not None,
        )
        if outcome.checkpoint is not None:  # first: a crash after it re-sends, never re-learns
            put_bounded(self.themes, emotion, outcome.checkpoint)
        for moved, assignment in outcome.relabels:
            card = self.cards.get(moved)
            if card is not None:
                await self.publish({"track_id": moved, **card}, assignment, outcome.version, True)
        if outcome.assignment is not None:
            await self.publish(record, outcome.assignment, outcome.version, False)

    def define(self, app: faust.App) -> dict:
        @app.agent(self.classified, name="theme_tracks")
        async def theme_tracks(stream: faust.StreamT) -> None:
            """tracks.classified -> the emotion's theme owner -> tracks.labelled (+ relabels),
            cards."""
            await each_event(
                stream, source="tracks.classified", service="theme_tracks", handle=self.theme,
                dead_letters=self.dead_letters,
            )  # fmt: skip

        return {"theme_tracks": theme_tracks}
