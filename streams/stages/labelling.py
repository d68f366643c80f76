"""Labelling: each track's emotion, from the served music model.

- in: ``tracks.features`` (``TrackFeaturesReady``, keyed by track id)
- out: ``tracks.classified`` (``TrackClassified``), keyed by the emotion and sent to the
  emotion's own partition, where that emotion's theme owner reads it (:mod:`streams.theme_owner`)
- table: ``tracks`` (the entry gains ``labels``)
- delivery: at least once; a track whose entry has labels is skipped; batches of tracks are
  labelled side by side on every core.
"""

from __future__ import annotations

import asyncio
import time

import faust

from schemas.codec import codec_for
from streams import metrics
from streams.deadletter import DeadLetterPolicy
from streams.events import check_track_record
from streams.model_hub import ModelHub
from streams.pipeline_io import PipelineStore
from streams.stages.loops import each_track_batch
from streams.tables import check_bounded
from streams.theme_owner import emotion_partition

__all__ = ["Labelling"]


class Labelling:
    """The ``label_tracks`` agent and its handling."""

    def __init__(
        self, features: faust.TopicT, classified: faust.TopicT, tracks, store: PipelineStore,
        hub: ModelHub, dead_letters: DeadLetterPolicy,
    ) -> None:  # fmt: skip
        self.features, self.classified, self.tracks = features, classified, tracks
        self.store, self.hub, self.dead_letters = store, hub, dead_letters
        self.ready = codec_for("TrackFeaturesReady")
        self.codec = codec_for("TrackClassified")

    async def label(self, event: faust.EventT) -> None:
        """Segment matrix (and the audio's embedding, for the champion) -> emotion."""
        record = check_track_record(self.ready.decode(event.value))
        track_id = record["track_id"]
        entry = self.tracks.get(track_id) or {}
        if entry.get("labels"):
            return
        music = await self.hub.wait_for("music")
        matrix = await asyncio.to_thread(self.store.load_features, record["features_key"])
        embedding = None
        if music.needs_embedding:  # the champion candidate reads the audio's musicnn embedding
            embedding = await asyncio.to_thread(self.store.music_embedding, record, music)
        probabilities = await asyncio.to_thread(music.predict, matrix, embedding)
        emotion = max(probabilities, key=probabilities.get)
        classified = {
            "track_id": track_id,
            "metadata": record["metadata"],
            "object_key": record["object_key"],
            "features_key": record["features_key"],
            "feature_spec": record["feature_spec"],
            "emotion": emotion,
            "emotion_probabilities": probabilities,
            "music_model_version": music.version,
            "classified_at": int(time.time() * 1000),
        }
        entry = {
            **entry,
            "status": "classified",
            "labels": {"emotion": emotion, "probabilities": probabilities},
        }
        check_bounded(self.tracks, track_id, entry)
        await self.classified.send(
            key=emotion.encode(),
            value=self.codec.encode(classified),
            partition=emotion_partition(emotion, self.hub.settings.partitions),
        )
        metrics.EVENTS_OUT.labels(topic="tracks.classified").inc()
        self.tracks[track_id] = entry

    def define(self, app: faust.App) -> dict:
        @app.agent(self.features, name="label_tracks")
        async def label_tracks(stream: faust.StreamT) -> None:
            """tracks.features -> emotion (music model) -> tracks.classified (the emotion's
            partition). Tracks are taken in batches and labelled side by side."""
            await each_track_batch(
                stream, source="tracks.features", service="label_tracks",
                size=self.hub.settings.track_batch_size, handle=self.label,
                dead_letters=self.dead_letters,
            )  # fmt: skip

        return {"label_tracks": label_tracks}
