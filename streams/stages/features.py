"""Features: each registered track's segment matrix.

- in: ``tracks.registered`` (``TrackDiscovered``, keyed by track id)
- out: ``tracks.features`` (``TrackFeaturesReady``); the matrix itself goes to MinIO
- table: ``tracks`` (the entry gains ``features``)
- delivery: at least once; a track whose entry has features is skipped; tracks are taken in
  batches (``track_batch_size``) and analysed side by side on every core, one track id at a time.
"""

from __future__ import annotations

import asyncio
import time

import faust

from schemas.codec import codec_for
from streams import metrics
from streams.deadletter import DeadLetterPolicy
from streams.events import check_track_record
from streams.pipeline_io import PipelineStore
from streams.stages.loops import each_track_batch
from streams.tables import check_bounded

__all__ = ["FeatureExtraction"]


class FeatureExtraction:
    """The ``extract_features`` agent and its handling."""

    def __init__(
        self, registered: faust.TopicT, features: faust.TopicT, tracks, store: PipelineStore,
        dead_letters: DeadLetterPolicy, batch_size: int,
    ) -> None:  # fmt: skip
        self.registered, self.features, self.tracks = registered, features, tracks
        self.store, self.dead_letters, self.batch_size = store, dead_letters, batch_size
        self.discovered = codec_for("TrackDiscovered")
        self.ready = codec_for("TrackFeaturesReady")

    async def extract(self, event: faust.EventT) -> None:
        """Audio from MinIO -> segment matrix into MinIO -> ``tracks.features``."""
        record = check_track_record(self.discovered.decode(event.value))
        track_id = record["track_id"]
        entry = self.tracks.get(track_id) or {}
        if entry.get("features"):
            return
        key, n_segments = await asyncio.to_thread(self.store.extract_features, record)
        out = {
            "track_id": track_id,
            "feature_spec": self.store.music_spec,
            "features_key": key,
            "n_segments": n_segments,
            "metadata": record["metadata"],
            "object_key": record["object_key"],
            "playlist_emotion": record.get("playlist_emotion"),
            "extracted_at": int(time.time() * 1000),
        }
        entry = {**entry, "status": "features", "features": {"key": key, "n_segments": n_segments}}
        check_bounded(self.tracks, track_id, entry)
        await self.features.send(key=track_id.encode(), value=self.ready.encode(out))
        metrics.EVENTS_OUT.labels(topic="tracks.features").inc()
        self.tracks[track_id] = entry

    def define(self, app: faust.App) -> dict:
        @app.agent(self.registered, name="extract_features")
        async def extract_features(stream: faust.StreamT) -> None:
            """tracks.registered -> audio from MinIO -> segment matrix into MinIO ->
            tracks.features. Tracks are taken in batches and analysed side by side."""
            await each_track_batch(
                stream, source="tracks.registered", service="extract_features",
                size=self.batch_size, handle=self.extract, dead_letters=self.dead_letters,
            )  # fmt: skip

        return {"extract_features": extract_features}
