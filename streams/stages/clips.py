"""Clips: a listener's voice clip -> its emotion -> the paper's flow -> a recommendation.

- in: ``voice.clips`` (``VoiceClipSubmitted``, any key or partitioner) and
  ``voice.clips.by-user`` (the clips that were not on their listener's partition, forwarded
  there unchanged, keyed by the user id; :mod:`streams.routing`)
- out: ``recommendations`` (``Recommendation``, keyed by the user id), and
  ``voice.clips.by-user`` for the clips it forwards
- tables: ``sessions`` (the paper's flow, the listener's voice history), ``cards`` (read)
- delivery: at least once; a request id the session has already answered is skipped. Clips are
  taken in batches (``clip_batch_size``, ``clip_batch_wait_ms``), read side by side in reader
  processes (:mod:`streams.clip_readers`), and answered in each listener's order: one
  listener's clips keep their order and each sees the session its predecessor left.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import faust

from models.audio import stated_duration_s
from models.features.voice import DEFAULT_VOICE_SPEC
from models.voice import MAX_CLIP_BYTES, ClipReading, decode_voice_clip
from schemas.codec import codec_for
from streams import metrics
from streams.admission import AdmittedClip, ListenerAdmission
from streams.clip_readers import ClipReaders
from streams.deadletter import DeadLetterPolicy
from streams.events import check_clip_event
from streams.limits import MAX_FEEDBACK_EVENT_BYTES, check_event_size, check_id
from streams.model_hub import ModelHub
from streams.pipeline_io import PipelineStore
from streams.recommendation import (
    already_handled,
    mood_is_uncertain,
    normalise_session,
    recommend,
    remember_voice,
    uncertain_reason,
)
from streams.routing import partition_for_user
from streams.stages.loops import each_batch, user_router
from streams.tables import check_bounded

__all__ = ["Clips", "CLIP_EVENT_LIMIT"]

logger = logging.getLogger(__name__)

#: The largest clip event read: the largest clip and room for the other fields.
CLIP_EVENT_LIMIT = MAX_CLIP_BYTES + MAX_FEEDBACK_EVENT_BYTES


class Clips:
    """The ``recommend`` agent and its handling."""

    def __init__(
        self, clips: faust.TopicT, by_user: faust.TopicT, recommendations: faust.TopicT,
        sessions, cards, store: PipelineStore, hub: ModelHub, readers: ClipReaders,
        dead_letters: DeadLetterPolicy,
    ) -> None:  # fmt: skip
        self.public = clips.get_topic_name()
        self.by_user, self.recommendations = by_user, recommendations
        self.sessions, self.cards = sessions, cards
        self.store, self.hub, self.readers, self.dead_letters = store, hub, readers, dead_letters
        settings = hub.settings
        self.admission = ListenerAdmission(
            settings.listener_clip_limit, settings.listener_clip_window_s,
            audio_limit_s=settings.listener_audio_limit_s,
        )  # fmt: skip
        self.codec = codec_for("VoiceClipSubmitted")
        self.answer_codec = codec_for("Recommendation")
        self.route = user_router(
            by_user, self.codec, "voice clip", CLIP_EVENT_LIMIT, settings.partitions
        )

    def read(self, value: bytes, key: bytes | None) -> dict:
        check_event_size("voice clip", len(value), CLIP_EVENT_LIMIT)
        return check_clip_event(self.codec.decode(value), key)

    def placed(self, message) -> dict | None:
        """The decoded clip when ``message``, on ``voice.clips``, is already where its
        listener's session is (keyed by the user id, on :func:`partition_for_user`'s
        partition): it is answered there. None for any other event: it is forwarded to
        ``voice.clips.by-user``, or dead-lettered if it is bad."""
        if len(message.value) > CLIP_EVENT_LIMIT:
            return None
        try:
            record = self.codec.decode(message.value)
            user_id = check_id("user_id", record.get("user_id"))
        except Exception:  # noqa: BLE001  (routing it dead-letters it, with the reason)
            return None
        placed = message.key == user_id.encode() and message.partition == partition_for_user(
            user_id, self.hub.settings.partitions
        )
        return record if placed else None

    async def answer_batch(
        self, events: list[faust.EventT], focus: Callable[[faust.EventT], None]
    ) -> list[BaseException | None]:
        """Answer a batch of clips: forward those of ``voice.clips`` that are not on their
        listener's partition, admit the others (their audio undecoded), read each in a reader
        process, and answer each as soon as it is read and its listener's earlier clips of the
        batch are answered. A short clip is not held back behind a long clip of another
        listener. The clip gate refuses without a model; the model is awaited only for what
        passed it."""
        failures: list[BaseException | None] = [None] * len(events)
        steps = []
        before: dict[str, asyncio.Task] = {}  # each listener's latest clip in this batch
        for i, event in enumerate(events):
            try:
                if event.message.topic == self.public:
                    record = self.placed(event.message)
                    if record is None:  # to its listener's partition, to be answered there
                        await self.route(event)
                        continue
                    clip = check_clip_event(record, event.message.key)
                else:
                    clip = self.read(event.value, event.message.key)
                user_id = clip["user_id"]
                if already_handled(self.sessions.get(user_id), clip["request_id"]):
                    logger.info("request %s already answered; skipped", clip["request_id"])
                    continue
                stated = stated_duration_s(clip["audio"]) if clip["audio"] is not None else None
                admitted = self.admission.admit(user_id, event.message.timestamp, stated or 0.0)
            except Exception as exc:  # noqa: BLE001  (this event's failure only)
                failures[i] = exc
                continue
            unsettled = None if stated else admitted
            step = asyncio.ensure_future(
                self.step(event, clip, unsettled, before.get(user_id), focus)
            )
            before[user_id] = step
            steps.append((i, step))
        results = await asyncio.gather(*(step for _, step in steps), return_exceptions=True)
        for (i, _), result in zip(steps, results, strict=True):
            if isinstance(result, asyncio.CancelledError):
                raise result
            failures[i] = result
        return failures

    async def step(
        self,
        event: faust.EventT,
        clip: dict,
        unsettled: AdmittedClip | None,
        after: asyncio.Task | None,
        focus: Callable[[faust.EventT], None],
    ) -> BaseException | None:
        """Decode, read and answer one clip of a batch, once ``after`` (the listener's previous
        clip of the batch) is done; the clip's error, or None."""
        try:
            reading = await self.read_audio(clip)
            if unsettled is not None:
                self.admission.settle(unsettled, reading.duration_s)
            voice = await self.hub.wait_for("voice")
        except Exception as exc:  # noqa: BLE001  (this event's failure only)
            reading = exc
        if after is not None:
            await after  # never raises an event's error: steps return them
        if isinstance(reading, BaseException):
            return reading
        try:
            focus(event)
            await self.answer(clip, reading, voice)
        except Exception as exc:  # noqa: BLE001  (this event's failure only)
            return exc
        return None

    async def read_audio(self, clip: dict) -> ClipReading:
        """The clip's reading: in the reader processes (streams.clip_readers), or with
        ``clip_read_processes=0`` in threads through the voice model's own ``read``."""
        audio = clip["audio"]
        if audio is None:  # by object key, refused from its size before it is read
            audio = await asyncio.to_thread(self.store.load_clip, clip["audio_key"])
        if self.readers.processes == 0:
            y = await asyncio.to_thread(decode_voice_clip, audio)  # the clip gate
            voice = await self.hub.wait_for("voice")
            return await asyncio.to_thread(voice.read, y, sr=DEFAULT_VOICE_SPEC.sr)
        return await self.readers.read(audio)

    async def playlist(self, track_ids: list[str]) -> list[dict]:
        """The cards of ``track_ids`` with presigned audio URLs; unplayable ones left out."""
        playlist = []
        for track_id in track_ids:
            card = self.cards.get(track_id)
            if card is not None:
                playlist.append(
                    {
                        "track_id": track_id,
                        "theme_id": int(card["theme_id"]),
                        "metadata": card["metadata"],
                        "object_key": card["object_key"],
                    }
                )
        if not playlist:
            return playlist
        urls, expires_at = await asyncio.to_thread(
            self.store.playable_urls, [entry["object_key"] for entry in playlist]
        )
        for entry, url in zip(playlist, urls, strict=True):
            entry["audio_url"] = url
            entry["audio_url_expires_at"] = expires_at
        return [entry for entry in playlist if entry["audio_url"] is not None]

    async def answer(self, clip: dict, reading: ClipReading, voice) -> None:
        """The recommendation for one read clip, from the listener's session."""
        user_id, request_id = clip["user_id"], clip["request_id"]
        session = self.sessions.get(user_id)
        if already_handled(session, request_id):  # the same request twice in one batch
            logger.info("request %s already answered; skipped", request_id)
            return
        history = normalise_session(session)["voice"]  # the listener's earlier clips
        heard = await asyncio.to_thread(voice.answer, reading, history=history)
        emotion = heard.emotion
        themes = self.cards.index.themes(emotion) if emotion else {}
        new_session, answer = recommend(
            session, request_id=request_id, emotion=emotion, themes=themes
        )
        if heard.functionals is not None:
            new_session = remember_voice(new_session, heard.functionals)
        uncertain = mood_is_uncertain(heard.probabilities, self.hub.settings.min_voice_confidence)
        reason = (
            uncertain_reason(answer.reason, heard.probabilities) if uncertain else answer.reason
        )
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
            "playlist": await self.playlist(answer.track_ids),
            "voice_model_version": voice.version,
            "created_at": int(time.time() * 1000),
        }
        check_bounded(self.sessions, user_id, new_session)
        await self.recommendations.send(key=user_id.encode(), value=self.answer_codec.encode(out))
        metrics.EVENTS_OUT.labels(topic="recommendations").inc()
        self.sessions[user_id] = new_session

    def define(self, app: faust.App) -> dict:
        clips_in = app.topic(
            self.public, self.by_user.get_topic_name(),
            key_serializer="raw", value_serializer="raw",
        )  # fmt: skip

        def source(event: faust.EventT) -> str:
            return "voice.clips" if event.message.topic == self.public else "voice.clips.by-user"

        @app.agent(clips_in, name="recommend")
        async def recommend_agent(stream: faust.StreamT) -> None:
            """voice.clips (those already on their listener's partition) and
            voice.clips.by-user (the others, routed) -> voice emotion -> the paper's flow over
            the user's session -> recommendations, in batches read side by side."""
            await self.readers.start()
            try:
                await each_batch(
                    stream, service="recommend", source=source,
                    size=self.hub.settings.clip_batch_size,
                    within_s=self.hub.settings.clip_batch_wait_ms / 1000,
                    handle=self.answer_batch, dead_letters=self.dead_letters,
                )  # fmt: skip
            finally:
                self.readers.close()

        return {"recommend": recommend_agent}
