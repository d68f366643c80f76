"""The stream agents: thin coroutines that decode, call a pure function, update tables, emit.

Read an event's path top to bottom: topic -> agent -> table -> output topic. Every agent decodes
inside ``try`` and hands failures to the one :class:`~streams.deadletter.DeadLetterPolicy`; CPU
work (decoding, features, inference) runs in threads, never on the event loop.

Ingest::

    tracks.discovered -register_tracks-> tracks.registered -extract_features-> tracks.features
        -label_tracks-> tracks.labelled  (+ tables: tracks, catalog, cards)

Recommendation::

    voice.clips -recommend-> recommendations   (sessions table; section 7 of the paper)
    feedback   -learn_feedback-> sessions

Every agent is idempotent: it skips an event whose id its table has already handled, and its
outputs are keyed by those ids and computed deterministically, so a replayed event produces no
new state and, at most, the identical output again (consumers drop it by id).
"""

from __future__ import annotations

import asyncio
import logging
import time

import faust

from schemas.codec import codec_for
from schemas.exceptions import SerializationError
from streams import metrics
from streams.deadletter import DeadLetterPolicy
from streams.model_hub import ModelHub
from streams.pipeline_io import PipelineStore
from streams.recommendation import already_handled, apply_feedback, recommend
from streams.registration import registration_for
from streams.tables import Tables
from streams.topics import Topics

__all__ = ["define_agents"]

logger = logging.getLogger(__name__)

_EMOTIONS = ("sad", "happy", "angry", "calm")


def define_agents(
    app: faust.App,
    topics: Topics,
    tables: Tables,
    dead_letters: DeadLetterPolicy,
    hub: ModelHub | None = None,
    store: PipelineStore | None = None,
) -> dict:
    """Register every agent on ``app``; return them by name (tests drive them with test_context)."""
    track_discovered = codec_for("TrackDiscovered")
    features_ready = codec_for("TrackFeaturesReady")
    track_labelled = codec_for("TrackLabelled")
    clip_submitted = codec_for("VoiceClipSubmitted")
    recommendation = codec_for("Recommendation")
    user_feedback = codec_for("UserFeedback")
    theme_lock = asyncio.Lock()

    async def dead(event, exc: BaseException, service: str) -> None:
        metrics.DEAD_LETTERS.labels(kind=type(exc).__name__).inc()
        await dead_letters.send(event.message, exc, service=service)

    @app.agent(topics.track_discovered, name="register_tracks")
    async def register_tracks(stream: faust.StreamT) -> None:
        """tracks.discovered -> ``tracks`` table -> tracks.registered (first sighting only)."""
        async for event in stream.events():
            metrics.EVENTS_IN.labels(topic="tracks.discovered").inc()
            try:
                record = track_discovered.decode(event.value)
            except SerializationError as exc:
                await dead(event, exc, "register_tracks")
                continue
            track_id = record["track_id"]
            entry = registration_for(tables.tracks.get(track_id), record)
            if entry is None:
                logger.debug("track %s already registered; skipped", track_id)
                continue
            # Emit before recording: a crash in between re-emits (deduped downstream by track
            # id) rather than recording a track that was never forwarded.
            await topics.track_registered.send(key=track_id.encode(), value=event.value)
            metrics.EVENTS_OUT.labels(topic="tracks.registered").inc()
            tables.tracks[track_id] = entry

    agents = {"register_tracks": register_tracks}
    if hub is None or store is None:
        return agents

    @app.agent(topics.track_registered, name="extract_features")
    async def extract_features(stream: faust.StreamT) -> None:
        """tracks.registered -> audio from MinIO -> segment matrix into MinIO -> tracks.features."""
        async for event in stream.events():
            metrics.EVENTS_IN.labels(topic="tracks.registered").inc()
            started = time.perf_counter()
            try:
                record = track_discovered.decode(event.value)
                track_id = record["track_id"]
                entry = tables.tracks.get(track_id) or {}
                if entry.get("features"):
                    continue
                key, n_segments = await asyncio.to_thread(store.extract_features, record)
            except Exception as exc:  # noqa: BLE001  (bad event, bad audio, store error: dead letter)
                await dead(event, exc, "extract_features")
                continue
            out = {
                "track_id": track_id,
                "feature_spec": store.music_spec,
                "features_key": key,
                "n_segments": n_segments,
                "metadata": record["metadata"],
                "object_key": record["object_key"],
                "playlist_emotion": record.get("playlist_emotion"),
                "extracted_at": int(time.time() * 1000),
            }
            await topics.track_features.send(
                key=track_id.encode(), value=features_ready.encode(out)
            )
            metrics.EVENTS_OUT.labels(topic="tracks.features").inc()
            tables.tracks[track_id] = {
                **entry,
                "status": "features",
                "features": {"key": key, "n_segments": n_segments},
            }
            metrics.LATENCY.labels(agent="extract_features").observe(time.perf_counter() - started)

    @app.agent(topics.track_features, name="label_tracks")
    async def label_tracks(stream: faust.StreamT) -> None:
        """tracks.features -> emotion (music model) + theme (theme model) -> tracks.labelled."""
        async for event in stream.events():
            metrics.EVENTS_IN.labels(topic="tracks.features").inc()
            started = time.perf_counter()
            try:
                record = features_ready.decode(event.value)
                track_id = record["track_id"]
                entry = tables.tracks.get(track_id) or {}
                if entry.get("labels"):
                    continue
                music = await hub.wait_for("music")
                themes = await hub.wait_for("themes")
                matrix = await asyncio.to_thread(store.load_features, record["features_key"])
                probabilities = await asyncio.to_thread(music.predict, matrix)
                emotion = max(probabilities, key=probabilities.get)
                async with theme_lock:  # the theme model learns from every new track
                    assignment = await asyncio.to_thread(themes.add, emotion, matrix)
            except Exception as exc:  # noqa: BLE001  (decode, model or store failure: dead letter)
                await dead(event, exc, "label_tracks")
                continue
            labelled = {
                "track_id": track_id,
                "metadata": record["metadata"],
                "object_key": record["object_key"],
                "emotion": emotion,
                "emotion_probabilities": probabilities,
                "theme_id": assignment.theme_id,
                "theme_distribution": [
                    {"theme_id": t, "weight": w} for t, w in sorted(assignment.distribution.items())
                ],
                "music_model_version": music.version,
                "theme_model_version": hub.themes_version,
                "feature_spec": record["feature_spec"],
                "labelled_at": int(time.time() * 1000),
            }
            await topics.track_labelled.send(
                key=track_id.encode(), value=track_labelled.encode(labelled)
            )
            metrics.EVENTS_OUT.labels(topic="tracks.labelled").inc()
            labels = {
                "emotion": emotion,
                "theme_id": assignment.theme_id,
                "probabilities": probabilities,
            }
            tables.tracks[track_id] = {**entry, "status": "labelled", "labels": labels}
            catalog = {k: list(v) for k, v in (tables.catalog.get(emotion) or {}).items()}
            members = catalog.setdefault(str(assignment.theme_id), [])
            if track_id not in members:
                members.append(track_id)
            tables.catalog[emotion] = catalog
            tables.cards[track_id] = {
                "metadata": record["metadata"],
                "object_key": record["object_key"],
                "emotion": emotion,
                "theme_id": assignment.theme_id,
            }
            metrics.LATENCY.labels(agent="label_tracks").observe(time.perf_counter() - started)

    @app.agent(topics.voice_clips, name="recommend")
    async def recommend_agent(stream: faust.StreamT) -> None:
        """voice.clips -> voice emotion -> the paper's flow over the user's session -> recommendations."""
        async for event in stream.events():
            metrics.EVENTS_IN.labels(topic="voice.clips").inc()
            started = time.perf_counter()
            try:
                clip = clip_submitted.decode(event.value)
                user_id, request_id = clip["user_id"], clip["request_id"]
                session = tables.sessions.get(user_id)
                if already_handled(session, request_id):
                    logger.info("request %s already answered; skipped", request_id)
                    continue
                voice = await hub.wait_for("voice")
                audio = (
                    clip["audio"]
                    if clip["audio"] is not None
                    else await asyncio.to_thread(store.load_clip, clip["audio_key"])
                )
                heard = await asyncio.to_thread(voice.classify, audio)
            except Exception as exc:  # noqa: BLE001  (bad schema, bad audio, too long: dead letter)
                await dead(event, exc, "recommend")
                continue
            emotion = heard.emotion
            themes = (tables.catalog.get(emotion) or {}) if emotion else {}
            new_session, answer = recommend(
                session, request_id=request_id, emotion=emotion, themes=themes
            )
            playlist = []
            for track_id in answer.track_ids:
                card = tables.cards.get(track_id)
                if card is not None:
                    playlist.append(
                        {
                            "track_id": track_id,
                            "theme_id": int(card["theme_id"]),
                            "metadata": card["metadata"],
                            "object_key": card["object_key"],
                        }
                    )
            out = {
                "request_id": request_id,
                "user_id": user_id,
                "session_id": clip.get("session_id", ""),
                "speech_detected": heard.has_speech,
                "emotion": emotion,
                "emotion_probabilities": heard.probabilities or None,
                "theme_id": answer.theme_id,
                "step": answer.step,
                "reason": answer.reason,
                "playlist": playlist,
                "voice_model_version": voice.version,
                "created_at": int(time.time() * 1000),
            }
            await topics.recommendations.send(
                key=user_id.encode(), value=recommendation.encode(out)
            )
            metrics.EVENTS_OUT.labels(topic="recommendations").inc()
            tables.sessions[user_id] = new_session
            metrics.LATENCY.labels(agent="recommend").observe(time.perf_counter() - started)

    @app.agent(topics.feedback, name="learn_feedback")
    async def learn_feedback(stream: faust.StreamT) -> None:
        """feedback -> the user's session: picks teach the preferred theme, abandon clears it."""
        async for event in stream.events():
            metrics.EVENTS_IN.labels(topic="feedback").inc()
            try:
                feedback = user_feedback.decode(event.value)
            except SerializationError as exc:
                await dead(event, exc, "learn_feedback")
                continue
            user_id = feedback["user_id"]
            session = tables.sessions.get(user_id)
            if already_handled(session, feedback["feedback_id"]):
                continue
            theme_of = {}
            for track_id in feedback["track_ids"]:
                card = tables.cards.get(track_id)
                if card is not None:
                    theme_of[track_id] = (card["emotion"], int(card["theme_id"]))
            tables.sessions[user_id] = apply_feedback(
                session, feedback_id=feedback["feedback_id"], action=feedback["action"],
                track_ids=list(feedback["track_ids"]), theme_of=theme_of,
            )  # fmt: skip

    agents.update(
        extract_features=extract_features,
        label_tracks=label_tracks,
        recommend=recommend_agent,
        learn_feedback=learn_feedback,
    )
    return agents
