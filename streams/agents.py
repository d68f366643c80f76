"""The stream agents: thin coroutines that decode, call a pure function, update tables, emit.

Read an event's path top to bottom: topic -> agent -> table -> output topic. Every agent is one
:func:`_each_event` loop around a handler of its own: the loop counts the event, times it, and
hands any failure of the handler (a bad event, bad audio, a refused pick, a table value over its
bound, a store error) to the one :class:`~streams.deadletter.DeadLetterPolicy`, then goes on with
the next event. The recommender runs the batch form, :func:`_each_batch`: the clips that are
waiting are read side by side, then answered one by one in order, each failure dead-lettered
alone. CPU work (audio, features, inference) runs in threads, never on the event loop;
events are size-checked before they are decoded (a feedback event over 64 KiB is refused
undecoded: decoding megabytes holds the interpreter, thread or not).

Ingest::

    tracks.discovered -register_tracks-> tracks.registered -extract_features-> tracks.features
        -label_tracks-> tracks.classified (keyed by emotion)
        -theme_tracks-> tracks.labelled  (+ tables: tracks; themes, the owners' checkpoints;
                                           cards, the catalog)

Recommendation::

    voice.clips -recommend-> recommendations   (sessions table; section 7 of the paper)
    feedback   -learn_feedback-> sessions

Every agent is idempotent: it skips an event whose id its table has already handled, and its
outputs are keyed by those ids and computed deterministically, so a replayed event produces no
new state and, at most, the identical output again (consumers drop it by id). Outputs are sent
before the table write that records them (a crash in between re-sends, never loses), and every
table value is size-checked before the send. The theme owner is the exception: it records its
checkpoint first and answers the checkpoint's own event again after a crash, because learning
must happen exactly once (:mod:`streams.theme_owner`).
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Awaitable, Callable

import faust
from faust.streams import _current_event

from models.audio import stated_duration_s
from models.features.voice import DEFAULT_VOICE_SPEC
from models.themes import ThemeAssignment
from models.voice import MAX_CLIP_BYTES, ClipReading, decode_voice_clip
from schemas.codec import codec_for
from streams import metrics
from streams.admission import AdmittedClip, ListenerAdmission
from streams.clip_readers import ClipReaders
from streams.deadletter import DeadLetterPolicy
from streams.events import check_clip_event, check_feedback_event, check_track_record
from streams.limits import MAX_FEEDBACK_EVENT_BYTES, check_event_size, check_id
from streams.model_hub import ModelHub
from streams.pipeline_io import PipelineStore
from streams.recommendation import (
    already_handled,
    apply_feedback,
    mood_is_uncertain,
    normalise_session,
    recommend,
    remember_voice,
    uncertain_reason,
)
from streams.registration import registration_for
from streams.routing import partition_for_user
from streams.tables import Tables, check_bounded, put_bounded
from streams.theme_owner import ThemeOwner, emotion_partition
from streams.topics import Topics

__all__ = ["define_agents"]

logger = logging.getLogger(__name__)

#: How long the track agents wait for more tracks to join a batch (ingest is not interactive).
TRACK_BATCH_WAIT_S = 0.05


async def _each_event(
    stream: faust.StreamT,
    *,
    source: str,
    service: str,
    handle: Callable[[faust.EventT], Awaitable[None]],
    dead_letters: DeadLetterPolicy,
    guard: bool = True,
) -> None:
    """The loop every agent runs: count, time, handle; a failing event becomes a dead letter.

    With ``guard``, an event that comes after a hole in its partition waits for the hole to be
    read again (:meth:`streams.consumer.RewindingConsumer.check_in_order`).
    """
    consumer = stream.app.consumer
    in_order = getattr(consumer, "check_in_order", None) if guard else None
    if not guard and hasattr(consumer, "unguarded_topics"):
        consumer.unguarded_topics.update(getattr(stream.channel, "topics", ()))
    async for event in stream.events():
        message = event.message
        if in_order is not None and not await in_order(message.tp, message.offset):
            continue  # records before it were skipped; it comes again after them
        metrics.EVENTS_IN.labels(topic=source).inc()
        started = time.perf_counter()
        try:
            await handle(event)
        except Exception as exc:  # noqa: BLE001  (any failure of one event: dead letter, go on)
            await dead_letters.send(event.message, exc, service=service)
            continue
        elapsed = time.perf_counter() - started
        metrics.LATENCY.labels(agent=service).observe(elapsed)
        metrics.BUSY.labels(agent=service).inc(elapsed)


async def _each_batch(
    stream: faust.StreamT,
    *,
    source: str | Callable[[faust.EventT], str],
    service: str,
    size: int,
    within_s: float,
    handle: Callable[
        [list[faust.EventT], Callable[[faust.EventT], None]],
        Awaitable[list[BaseException | None]],
    ],
    dead_letters: DeadLetterPolicy,
) -> None:
    """The batch form of :func:`_each_event`: take up to ``size`` waiting events (waiting at
    most ``within_s`` for more), hand them to ``handle`` at once, dead-letter each event whose
    entry in the returned list is an error. Events are acknowledged only after their batch is
    handled; the hole guard checks each event as :func:`_each_event` does. ``source`` names the
    events' topic in the metrics (a function of the event, for an agent that reads two).

    ``handle`` gets the batch and ``focus``: it calls ``focus(event)`` before it writes a table
    for that event. Faust files a table write under the partition of the stream's current
    event, which a batch has not got; without ``focus`` a write fails, or lands in the wrong
    partition.
    """
    consumer = stream.app.consumer
    in_order = getattr(consumer, "check_in_order", None)
    async for events in stream.take_events(size, within_s):
        batch = []
        for event in events:
            message = event.message
            if in_order is not None and not await in_order(message.tp, message.offset):
                continue  # records before it were skipped; it comes again after them
            metrics.EVENTS_IN.labels(
                topic=source if isinstance(source, str) else source(event)
            ).inc()
            batch.append(event)
        if not batch:
            continue
        metrics.BATCH_SIZE.labels(agent=service).observe(len(batch))
        started = time.perf_counter()
        token = _current_event.set(None)
        try:
            failures = await handle(batch, _focus)
        finally:
            _current_event.reset(token)
        for event, error in zip(batch, failures, strict=True):
            if error is not None:
                await dead_letters.send(event.message, error, service=service)
        elapsed = time.perf_counter() - started
        metrics.BUSY.labels(agent=service).inc(elapsed)
        for _ in batch:  # each event waited for its whole batch
            metrics.LATENCY.labels(agent=service).observe(elapsed)


def _focus(event: faust.EventT) -> None:
    """Make ``event`` the current event of this task, as Faust's stream loop does for each
    event it yields (``faust.streams.current_event``): tables file writes under its partition.

    Only the context variable is set: the stream's own ``current_event`` attribute belongs to
    its buffering, which runs on while a batch is handled."""
    _current_event.set(weakref.ref(event))


async def _side_by_side_by_key(
    events: list[faust.EventT],
    focus: Callable[[faust.EventT], None],
    handle: Callable[[faust.EventT], Awaitable[None]],
) -> list[BaseException | None]:
    """Handle a batch's events side by side, each in a task of its own (its blocking work in
    threads, so on every core); events of one key are handled one after the other, in order.
    Each event's error, or None; a cancellation (the worker stopping) is raised."""

    async def step(event: faust.EventT, after: asyncio.Task | None) -> BaseException | None:
        if after is not None:
            await after  # never raises an event's error: steps return them
        try:
            focus(event)
            await handle(event)
        except Exception as exc:  # noqa: BLE001  (this event's failure only)
            return exc
        return None

    steps: list[asyncio.Task] = []
    latest: dict[object, asyncio.Task] = {}
    for event in events:
        key = event.message.key
        task = asyncio.ensure_future(step(event, latest.get(key)))
        latest[key] = task
        steps.append(task)
    results = await asyncio.gather(*steps, return_exceptions=True)
    for result in results:
        if isinstance(result, asyncio.CancelledError):
            raise result
    return results


def define_agents(
    app: faust.App,
    topics: Topics,
    tables: Tables,
    dead_letters: DeadLetterPolicy,
    hub: ModelHub | None = None,
    store: PipelineStore | None = None,
    readers: ClipReaders | None = None,
) -> dict:
    """Register every agent on ``app``; return them by name (tests drive them with test_context)."""
    track_discovered = codec_for("TrackDiscovered")
    features_ready = codec_for("TrackFeaturesReady")
    track_labelled = codec_for("TrackLabelled")
    clip_submitted = codec_for("VoiceClipSubmitted")
    recommendation = codec_for("Recommendation")
    user_feedback = codec_for("UserFeedback")
    track_classified = codec_for("TrackClassified")
    owner = ThemeOwner(store, store.load_features, app.conf.id) if store is not None else None

    def loop(
        stream: faust.StreamT, source: str, service: str, handle, *, guard: bool = True
    ) -> Awaitable[None]:
        return _each_event(
            stream, source=source, service=service, handle=handle, dead_letters=dead_letters,
            guard=guard,
        )  # fmt: skip

    async def register(event: faust.EventT) -> None:
        record = check_track_record(track_discovered.decode(event.value))
        track_id = record["track_id"]
        entry = registration_for(tables.tracks.get(track_id), record)
        if entry is None:
            logger.debug("track %s already registered; skipped", track_id)
            return
        check_bounded(tables.tracks, track_id, entry)
        # Emit before recording: a crash in between re-emits (deduped downstream by track id)
        # rather than recording a track that was never forwarded.
        await topics.track_registered.send(key=track_id.encode(), value=event.value)
        metrics.EVENTS_OUT.labels(topic="tracks.registered").inc()
        tables.tracks[track_id] = entry

    @app.agent(topics.track_discovered, name="register_tracks")
    async def register_tracks(stream: faust.StreamT) -> None:
        """tracks.discovered -> ``tracks`` table -> tracks.registered (first sighting only)."""
        # The crawler writes in transactions: markers leave holes without records in the
        # offsets, so this topic goes without the hole guard.
        await loop(stream, "tracks.discovered", "register_tracks", register, guard=False)

    agents = {"register_tracks": register_tracks}
    if hub is None or store is None:
        return agents
    admission = ListenerAdmission(
        hub.settings.listener_clip_limit,
        hub.settings.listener_clip_window_s,
        audio_limit_s=hub.settings.listener_audio_limit_s,
    )
    if readers is None:
        readers = ClipReaders(hub.settings.clip_read_processes)

    async def extract(event: faust.EventT) -> None:
        record = check_track_record(track_discovered.decode(event.value))
        track_id = record["track_id"]
        entry = tables.tracks.get(track_id) or {}
        if entry.get("features"):
            return
        key, n_segments = await asyncio.to_thread(store.extract_features, record)
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
        entry = {**entry, "status": "features", "features": {"key": key, "n_segments": n_segments}}
        check_bounded(tables.tracks, track_id, entry)
        await topics.track_features.send(key=track_id.encode(), value=features_ready.encode(out))
        metrics.EVENTS_OUT.labels(topic="tracks.features").inc()
        tables.tracks[track_id] = entry

    def side_by_side(stream: faust.StreamT, source: str, service: str, handle) -> Awaitable[None]:
        """Batches of tracks (``track_batch_size``), each track handled in a task of its own."""
        return _each_batch(
            stream, source=source, service=service, size=hub.settings.track_batch_size,
            within_s=TRACK_BATCH_WAIT_S, dead_letters=dead_letters,
            handle=lambda events, focus: _side_by_side_by_key(events, focus, handle),
        )  # fmt: skip

    @app.agent(topics.track_registered, name="extract_features")
    async def extract_features(stream: faust.StreamT) -> None:
        """tracks.registered -> audio from MinIO -> segment matrix into MinIO -> tracks.features.

        Tracks are taken in batches and analysed side by side, on every core."""
        await side_by_side(stream, "tracks.registered", "extract_features", extract)

    async def label(event: faust.EventT) -> None:
        record = check_track_record(features_ready.decode(event.value))
        track_id = record["track_id"]
        entry = tables.tracks.get(track_id) or {}
        if entry.get("labels"):
            return
        music = await hub.wait_for("music")
        matrix = await asyncio.to_thread(store.load_features, record["features_key"])
        embedding = None
        if music.needs_embedding:  # the champion candidate reads the audio's musicnn embedding
            embedding = await asyncio.to_thread(store.music_embedding, record, music)
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
        check_bounded(tables.tracks, track_id, entry)
        # To the emotion's owner (streams.theme_owner), on the emotion's own partition.
        await topics.track_classified.send(
            key=emotion.encode(),
            value=track_classified.encode(classified),
            partition=emotion_partition(emotion, hub.settings.partitions),
        )
        metrics.EVENTS_OUT.labels(topic="tracks.classified").inc()
        tables.tracks[track_id] = entry

    @app.agent(topics.track_features, name="label_tracks")
    async def label_tracks(stream: faust.StreamT) -> None:
        """tracks.features -> emotion (music model) -> tracks.classified (the emotion's partition).

        Tracks are taken in batches and labelled side by side, on every core."""
        await side_by_side(stream, "tracks.features", "label_tracks", label)

    def labelled_event(
        record: dict, assignment: ThemeAssignment, version: str, *, relabel: bool
    ) -> bytes:
        return track_labelled.encode(
            {
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
        )

    def card_of(record: dict, assignment: ThemeAssignment) -> dict:
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

    async def publish(
        record: dict, assignment: ThemeAssignment, version: str, relabel: bool
    ) -> None:
        card = card_of(record, assignment)
        check_bounded(tables.cards, record["track_id"], card)
        await topics.track_labelled.send(
            key=record["track_id"].encode(),
            value=labelled_event(record, assignment, version, relabel=relabel),
        )
        metrics.EVENTS_OUT.labels(topic="tracks.labelled").inc()
        tables.cards[record["track_id"]] = card

    async def theme(event: faust.EventT) -> None:
        record = check_track_record(track_classified.decode(event.value))
        emotion, track_id = record["emotion"], record["track_id"]
        model = await hub.wait_for("themes")
        checkpoint = tables.themes.get(emotion)
        base = (checkpoint or {}).get("base")
        # A worker that has not seen a newer promotion yet goes on with the owner's base.
        version = hub.themes_version if base is None or hub.themes_version > base else base
        matrix = await asyncio.to_thread(store.load_features, record["features_key"])
        running = asyncio.get_running_loop()

        async def catalog_of_emotion() -> list[tuple[str, str, int]]:
            cards = tables.cards
            return [
                (t, cards[t]["features_key"], int(theme_id))
                for theme_id, ids in cards.index.themes(emotion).items()
                for t in ids
                if "features_key" in cards[t]  # a card from before the owners cannot be read
            ]

        outcome = await asyncio.to_thread(
            owner.learn,
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
            known=tables.cards.index.where(track_id) is not None,
        )
        if outcome.checkpoint is not None:  # first: a crash after it re-sends, never re-learns
            put_bounded(tables.themes, emotion, outcome.checkpoint)
        for moved, assignment in outcome.relabels:
            card = tables.cards.get(moved)
            if card is not None:
                await publish({"track_id": moved, **card}, assignment, outcome.version, True)
        if outcome.assignment is not None:
            await publish(record, outcome.assignment, outcome.version, False)

    @app.agent(topics.track_classified, name="theme_tracks")
    async def theme_tracks(stream: faust.StreamT) -> None:
        """tracks.classified -> the emotion's theme owner -> tracks.labelled (+ relabels), cards."""
        await loop(stream, "tracks.classified", "theme_tracks", theme)

    clip_event_limit = MAX_CLIP_BYTES + MAX_FEEDBACK_EVENT_BYTES

    def read_clip(value: bytes, key: bytes | None) -> dict:
        check_event_size("voice clip", len(value), clip_event_limit)
        return check_clip_event(clip_submitted.decode(value), key)

    async def answer_clips(
        events: list[faust.EventT], focus: Callable[[faust.EventT], None]
    ) -> list[BaseException | None]:
        """Answer a batch of clips: forward those of ``voice.clips`` that are not on their
        listener's partition (streams.routing), admit the others (their audio undecoded), read
        each in a reader process, and answer each as soon as it is read and its listener's
        earlier clips of the batch are answered. One listener's clips (one partition, in offset
        order) keep their order and each sees the session its predecessor left; a short clip is
        not held back behind a long clip of another listener. The clip gate refuses without a
        model; the model is awaited only for what passed it."""
        failures: list[BaseException | None] = [None] * len(events)
        steps = []
        before: dict[str, asyncio.Task] = {}  # each listener's latest clip in this batch
        for i, event in enumerate(events):
            try:
                if event.message.topic == public_clips:
                    record = placed_clip(event.message)
                    if record is None:  # to its listener's partition, to be answered there
                        await route_clip(event)
                        continue
                    clip = check_clip_event(record, event.message.key)
                else:
                    clip = read_clip(event.value, event.message.key)
                if already_handled(tables.sessions.get(clip["user_id"]), clip["request_id"]):
                    logger.info("request %s already answered; skipped", clip["request_id"])
                    continue
                stated = stated_duration_s(clip["audio"]) if clip["audio"] is not None else None
                admitted = admission.admit(clip["user_id"], event.message.timestamp, stated or 0.0)
            except Exception as exc:  # noqa: BLE001  (this event's failure only)
                failures[i] = exc
                continue
            step = asyncio.ensure_future(
                clip_step(
                    event, clip, None if stated else admitted, before.get(clip["user_id"]), focus
                )
            )
            before[clip["user_id"]] = step
            steps.append((i, step))
        results = await asyncio.gather(*(step for _, step in steps), return_exceptions=True)
        for (i, _), result in zip(steps, results, strict=True):
            if isinstance(result, asyncio.CancelledError):
                raise result
            failures[i] = result
        return failures

    async def clip_step(
        event: faust.EventT,
        clip: dict,
        unsettled: AdmittedClip | None,
        after: asyncio.Task | None,
        focus: Callable[[faust.EventT], None],
    ) -> BaseException | None:
        """Decode, read and answer one clip of a batch, once ``after`` (the listener's previous
        clip of the batch) is done; the clip's error, or None."""
        try:
            reading = await read_clip_audio(clip)
            if unsettled is not None:
                admission.settle(unsettled, reading.duration_s)
            voice = await hub.wait_for("voice")
        except Exception as exc:  # noqa: BLE001  (this event's failure only)
            reading = exc
        if after is not None:
            await after  # never raises an event's error: steps return them
        if isinstance(reading, BaseException):
            return reading
        try:
            focus(event)
            await answer_clip(clip, reading, voice)
        except Exception as exc:  # noqa: BLE001  (this event's failure only)
            return exc
        return None

    async def read_clip_audio(clip: dict) -> ClipReading:
        """The clip's reading: in the reader processes (streams.clip_readers), or with
        ``clip_read_processes=0`` in threads through the voice model's own ``read``."""
        audio = clip["audio"]
        if audio is None:  # by object key, refused from its size before it is read
            audio = await asyncio.to_thread(store.load_clip, clip["audio_key"])
        if readers.processes == 0:
            y = await asyncio.to_thread(decode_voice_clip, audio)  # the clip gate
            voice = await hub.wait_for("voice")
            return await asyncio.to_thread(voice.read, y, sr=DEFAULT_VOICE_SPEC.sr)
        return await readers.read(audio)

    async def answer_clip(clip: dict, reading: ClipReading, voice) -> None:
        user_id, request_id = clip["user_id"], clip["request_id"]
        session = tables.sessions.get(user_id)
        if already_handled(session, request_id):  # the same request twice in one batch
            logger.info("request %s already answered; skipped", request_id)
            return
        history = normalise_session(session)["voice"]  # the listener's earlier clips
        heard = await asyncio.to_thread(voice.answer, reading, history=history)
        emotion = heard.emotion
        themes = tables.cards.index.themes(emotion) if emotion else {}
        new_session, answer = recommend(
            session, request_id=request_id, emotion=emotion, themes=themes
        )
        if heard.functionals is not None:
            new_session = remember_voice(new_session, heard.functionals)
        uncertain = mood_is_uncertain(heard.probabilities, hub.settings.min_voice_confidence)
        reason = (
            uncertain_reason(answer.reason, heard.probabilities) if uncertain else answer.reason
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
        if playlist:  # playable without the store's credentials; an unplayable card is left out
            urls, expires_at = await asyncio.to_thread(
                store.playable_urls, [entry["object_key"] for entry in playlist]
            )
            for entry, url in zip(playlist, urls, strict=True):
                entry["audio_url"] = url
                entry["audio_url_expires_at"] = expires_at
            playlist = [entry for entry in playlist if entry["audio_url"] is not None]
        out = {
            "request_id": request_id,
            "user_id": user_id,
            "session_id": clip.get("session_id", ""),
            "speech_detected": heard.has_speech,
            "emotion": emotion,
            "emotion_probabilities": heard.probabilities or None,
            "emotion_uncertain": uncertain,
            "theme_id": answer.theme_id,
            "step": answer.step,
            "reason": reason,
            "playlist": playlist,
            "voice_model_version": voice.version,
            "created_at": int(time.time() * 1000),
        }
        check_bounded(tables.sessions, user_id, new_session)
        await topics.recommendations.send(key=user_id.encode(), value=recommendation.encode(out))
        metrics.EVENTS_OUT.labels(topic="recommendations").inc()
        tables.sessions[user_id] = new_session

    def router(target: faust.TopicT, codec, what: str, limit: int):
        """Forward an event, bytes unchanged, to ``target`` on its user's partition."""

        async def route(event: faust.EventT) -> None:
            check_event_size(what, len(event.value), limit)
            user_id = codec.decode(event.value)["user_id"]
            check_id("user_id", user_id)
            await target.send(
                key=user_id.encode(),
                value=event.value,
                partition=partition_for_user(user_id, hub.settings.partitions),
            )

        return route

    public_clips = topics.voice_clips.get_topic_name()

    def placed_clip(message) -> dict | None:
        """The decoded clip when ``message``, on ``voice.clips``, is already where its
        listener's session is (keyed by the user id, on :func:`partition_for_user`'s
        partition): the recommend agent answers it there. None for any other event: the agent
        forwards it to ``voice.clips.by-user``, or dead-letters it if it is bad."""
        if len(message.value) > clip_event_limit:
            return None
        try:
            record = clip_submitted.decode(message.value)
            user_id = check_id("user_id", record.get("user_id"))
        except Exception:  # noqa: BLE001  (routing it dead-letters it, with the reason)
            return None
        placed = message.key == user_id.encode() and message.partition == partition_for_user(
            user_id, hub.settings.partitions
        )
        return record if placed else None

    route_clip = router(topics.voice_clips_by_user, clip_submitted, "voice clip", clip_event_limit)
    route_one_feedback = router(
        topics.feedback_by_user, user_feedback, "feedback", MAX_FEEDBACK_EVENT_BYTES
    )

    @app.agent(topics.feedback, name="route_feedback")
    async def route_feedback(stream: faust.StreamT) -> None:
        """feedback (any partitioner) -> feedback.by-user, on the listener's partition."""
        await loop(stream, "feedback", "route_feedback", route_one_feedback)

    clips_in = app.topic(
        public_clips, topics.voice_clips_by_user.get_topic_name(),
        key_serializer="raw", value_serializer="raw",
    )  # fmt: skip

    @app.agent(clips_in, name="recommend")
    async def recommend_agent(stream: faust.StreamT) -> None:
        """voice.clips (those already on their listener's partition) and voice.clips.by-user
        (the others, routed) -> voice emotion -> the paper's flow over the user's session ->
        recommendations.

        Clips are taken in batches (``clip_batch_size``, ``clip_batch_wait_ms``): their audio is
        read side by side on every core, and each is answered once read and once its
        listener's earlier clips are answered."""
        await readers.start()
        try:
            await _each_batch(
                stream, service="recommend",
                source=lambda e: "voice.clips" if e.message.topic == public_clips else "voice.clips.by-user",
                size=hub.settings.clip_batch_size, within_s=hub.settings.clip_batch_wait_ms / 1000,
                handle=answer_clips, dead_letters=dead_letters,
            )  # fmt: skip
        finally:
            readers.close()

    def read_feedback(value: bytes, key: bytes | None) -> dict:
        check_event_size("feedback", len(value), MAX_FEEDBACK_EVENT_BYTES)
        return check_feedback_event(user_feedback.decode(value), key)

    async def learn(event: faust.EventT) -> None:
        feedback = read_feedback(event.value, event.message.key)
        user_id = feedback["user_id"]
        session = tables.sessions.get(user_id)
        if already_handled(session, feedback["feedback_id"]):
            return
        theme_of = {}
        for track_id in feedback["track_ids"]:  # at most MAX_FEEDBACK_TRACKS
            card = tables.cards.get(track_id)
            if card is not None:
                theme_of[track_id] = (card["emotion"], int(card["theme_id"]))
        new_session = await asyncio.to_thread(
            apply_feedback,
            session,
            feedback_id=feedback["feedback_id"],
            action=feedback["action"],
            track_ids=feedback["track_ids"],
            theme_of=theme_of,
        )
        put_bounded(tables.sessions, user_id, new_session)

    @app.agent(topics.feedback_by_user, name="learn_feedback")
    async def learn_feedback(stream: faust.StreamT) -> None:
        """feedback.by-user -> the user's session: picks teach the preferred theme, abandon
        clears it."""
        await loop(stream, "feedback.by-user", "learn_feedback", learn)

    agents.update(
        extract_features=extract_features,
        label_tracks=label_tracks,
        route_feedback=route_feedback,
        recommend=recommend_agent,
        learn_feedback=learn_feedback,
    )
    return agents
