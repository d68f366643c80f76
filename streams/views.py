"""HTTP views of the worker: the clip -> recommendation API, feedback, state, health, metrics.

``POST /api/clips?user_id=U`` (raw audio body, or multipart with a ``clip`` file field)
produces a ``VoiceClipSubmitted`` event and waits (request/reply through Kafka, 20 s) for the
recommendation carrying its request id (``web_reply_timeout_s``). When ``MOODSTREAM_API_TOKEN`` is set, every ``/api``
call needs ``Authorization: Bearer <token>``.

Every request is bounded: bodies are read whole up to their limit (10 MiB for a clip, 64 KiB for
feedback; more is 413) within ``web_body_timeout_s`` (slower is 408). A clip passes the same
gate as one that arrives on Kafka (:func:`models.voice.decode_voice_clip`: same decoder, same
limits, same messages) before anything reaches Kafka; feedback passes the same checks as the
feedback agent applies. A refused request gets its reason at once (400, 408 or 413) and one INFO
log line, never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import math
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import faust
from aiohttp.http_exceptions import HttpProcessingError
from faust.web import Request, Response, View
from faust.web.exceptions import WebError

from models.exceptions import AudioDecodeError, AudioTooLargeError, AudioTooLongError
from models.voice import MAX_CLIP_BYTES
from schemas.codec import codec_for
from streams import metrics
from streams.clip_readers import ClipReaders
from streams.consumer import partition_lag
from streams.deadletter import DeadLetterPolicy
from streams.events import check_feedback_event, clip_event, feedback_event
from streams.exceptions import ClipReaderCrashedError, ClipReadTimeoutError, InvalidEventError
from streams.limits import MAX_FEEDBACK_BODY_BYTES, MAX_JSON_DEPTH, check_id
from streams.recommendation import already_handled, check_pick, normalise_session
from streams.record_batches import SkippedBatch, install_batch_guard, on_skipped_batch
from streams.tables import Tables

__all__ = ["define_views", "ReplyWaiter", "RequestRefused", "parse_feedback_body", "read_body"]

logger = logging.getLogger(__name__)

_CHUNK_BYTES = 64 * 1024


class RequestRefused(WebError):
    """A request the API refuses, with the HTTP status and a reason the client can act on."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason, code=status)


class RefusedByWorker(Exception):
    """The worker refused a request a caller waits for: its dead letter's kind and message."""

    def __init__(self, error_kind: str, message: str) -> None:
        super().__init__(f"{error_kind}: {message}")
        self.error_kind = error_kind
        self.message = message


class ReplyWaiter:
    """Waits for the answers to HTTP clips: reads the whole recommendations and dead-letter
    topics (no consumer group, from their ends at start), so what any worker says is seen.

    An answer is matched by (user id, request id): two listeners who chose the same request id
    each get their own answer, and callers waiting on one request all get it. A dead letter
    with the key and ``request_id`` of a waiting request (the worker refused it: a listener
    over its limit, say) ends the wait at once with :class:`RefusedByWorker`. A record batch on
    either topic that cannot be read is skipped and dead-lettered (streams.record_batches)."""

    def __init__(
        self,
        settings,
        topic: str,
        dead_letters: DeadLetterPolicy | None = None,
        refusals_topic: str | None = None,
    ) -> None:
        self.settings = settings
        self.topic = topic
        self.refusals_topic = refusals_topic
        self._dead_letters = dead_letters
        self._futures: dict[tuple[str, str], list[asyncio.Future]] = {}
        self._waiting_users: Counter[str] = Counter()
        self._task: asyncio.Task | None = None
        self._codec = codec_for("Recommendation")
        self._letter = codec_for("DeadLetter")
        self._ready = asyncio.Event()

    def _skipped(self, skipped: SkippedBatch) -> None:
        if skipped.topic == self.topic and self._dead_letters is not None:
            asyncio.ensure_future(
                self._dead_letters.send_batch(skipped, service="http reply waiter")
            )

    async def _run(self) -> None:
        from aiokafka import AIOKafkaConsumer

        install_batch_guard()
        loop = asyncio.get_running_loop()
        stop_watching = on_skipped_batch(lambda s: loop.call_soon_threadsafe(self._skipped, s))
        topics = [self.topic] + ([self.refusals_topic] if self.refusals_topic else [])
        consumer = AIOKafkaConsumer(
            *topics, bootstrap_servers=self.settings.kafka_bootstrap, group_id=None,
            auto_offset_reset="latest", enable_auto_commit=False,
            max_partition_fetch_bytes=16 * 2**20,
        )  # fmt: skip
        await consumer.start()
        try:
            while not consumer.assignment():
                await asyncio.sleep(0.05)
            for tp in consumer.assignment():
                await consumer.position(tp)  # resolve "latest" before any request is sent
            self._ready.set()
            async for message in consumer:
                try:
                    if message.topic == self.topic:
                        self.deliver(self._codec.decode(message.value))
                    elif (
                        message.key and self._waiting_users[message.key.decode("utf-8", "replace")]
                    ):
                        self.refuse(self._letter.decode(message.value))
                except Exception:  # noqa: BLE001  (not ours to judge: the DLQ path is the agent's)
                    continue
        finally:
            stop_watching()
            await consumer.stop()

    def deliver(self, answer: dict) -> None:
        """Hand ``answer`` to every caller waiting for its (user id, request id)."""
        for future in self._futures.pop((answer["user_id"], answer["request_id"]), ()):
            if not future.done():
                future.set_result(answer)

    def refuse(self, letter: dict) -> None:
        """End the wait of every caller of the request a dead letter refused."""
        if not letter.get("request_id") or letter.get("key") is None:
            return
        user_id = letter["key"].decode("utf-8", "replace")
        refused = RefusedByWorker(letter["error_kind"], letter["message"])
        for future in self._futures.pop((user_id, letter["request_id"]), ()):
            if not future.done():
                future.set_exception(refused)

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())
        await asyncio.wait_for(self._ready.wait(), timeout=30)

    @property
    def pending(self) -> int:
        """Requests waiting for their answer right now."""
        return sum(len(futures) for futures in self._futures.values())

    @contextlib.asynccontextmanager
    async def expecting(self, user_id: str, request_id: str) -> AsyncIterator[asyncio.Future]:
        """A future for the answer to ``request_id`` of ``user_id`` (or its refusal, as
        :class:`RefusedByWorker`), forgotten on leaving (answered or not)."""
        future = asyncio.get_running_loop().create_future()
        key = (user_id, request_id)
        self._futures.setdefault(key, []).append(future)
        self._waiting_users[user_id] += 1
        try:
            yield future
        finally:
            self._waiting_users[user_id] -= 1
            if self._waiting_users[user_id] <= 0:
                del self._waiting_users[user_id]
            waiting = self._futures.get(key)
            if waiting is not None and future in waiting:
                waiting.remove(future)
                if not waiting:
                    del self._futures[key]


#: HTTP status for a refusal the worker made after the gate, by dead-letter kind.
_REFUSAL_STATUS = {
    "ListenerBusyError": 429,
    "AudioTooLargeError": 413,
    "AudioTooLongError": 413,
    "AudioTooShortError": 400,
    "AudioDecodeError": 400,
    "InvalidEventError": 400,
    "KeyMismatchError": 400,
    "ClipReadTimeoutError": 400,
    "ClipReaderCrashedError": 400,
}


def _authorised(settings, request: Request) -> bool:
    if not settings.api_token:
        return True
    header = request.headers.get("Authorization", "")
    return hmac.compare_digest(header.encode(), f"Bearer {settings.api_token}".encode())


def _too_large(what: str, limit: int) -> RequestRefused:
    return RequestRefused(413, f"{what} is over the limit of {limit // 1024} KiB")


async def _read_bounded(read, limit: int, deadline: float, what: str) -> bytes:
    """Bytes from ``read(n)`` until it returns b"", refusing more than ``limit`` bytes or
    reading past ``deadline`` (event-loop time)."""
    loop = asyncio.get_running_loop()
    chunks, size = [], 0
    while True:
        remaining = deadline - loop.time()
        try:
            if remaining <= 0:
                raise asyncio.TimeoutError
            chunk = await asyncio.wait_for(read(_CHUNK_BYTES), remaining)
        except asyncio.TimeoutError:
            raise RequestRefused(
                408, f"{what} did not arrive in time: send the whole body at once"
            ) from None
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise _too_large(what, limit)
        chunks.append(chunk)


async def read_body(request: Request, *, limit: int, timeout_s: float, what: str) -> bytes:
    """The whole request body (raw, or a multipart form's ``clip`` field), bounded in size and
    time: 413 past ``limit`` bytes, 408 when it takes longer than ``timeout_s``."""
    if (request.content_length or 0) > limit:
        raise _too_large(what, limit)
    deadline = asyncio.get_running_loop().time() + timeout_s
    if not request.content_type.startswith("multipart/"):
        return await _read_bounded(request.content.read, limit, deadline, what)
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            data = await _read_bounded(part.read_chunk, limit, deadline, what)
            if getattr(part, "name", None) == "clip":
                return data
    except (ValueError, HttpProcessingError) as exc:  # aiohttp's parser: a malformed form
        reason = getattr(exc, "message", None) or str(exc)
        raise RequestRefused(400, f"the multipart body is malformed: {reason}"[:300]) from exc
    raise RequestRefused(400, "the multipart form has no 'clip' field: send the clip as 'clip'")


async def _gate_clip(readers: ClipReaders, data: bytes) -> None:
    """The clip gate of the Kafka path, applied to an HTTP clip in the clip readers (a child
    process, with their deadline: a file that hangs a decoder holds no worker thread)."""
    if not data:
        raise RequestRefused(400, "the body is empty: send the clip's bytes (wav, flac, ogg, mp3)")
    try:
        await readers.gate(data)
    except (AudioTooLargeError, AudioTooLongError) as exc:
        raise RequestRefused(413, str(exc)) from exc
    except (AudioDecodeError, ClipReadTimeoutError, ClipReaderCrashedError) as exc:
        raise RequestRefused(400, str(exc)) from exc


def _json_depth(value: object, depth: int = 1) -> int:
    if isinstance(value, dict):
        return max((_json_depth(v, depth + 1) for v in value.values()), default=depth)
    if isinstance(value, list):
        return max((_json_depth(v, depth + 1) for v in value), default=depth)
    return depth


def parse_feedback_body(body: bytes) -> dict:
    """The ``UserFeedback`` record of a ``POST /api/feedback`` body, or :class:`RequestRefused`.

    The body is ``{"user_id", "action": "PICK"|"ABANDON", "track_ids"?: [...],
    "feedback_id"?, "request_id"?, "session_id"?}``; every field is checked as the feedback agent
    checks it (types, lengths, counts).
    """
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise RequestRefused(400, f"the body is not JSON: {str(exc)[:200]}") from None
    if not isinstance(doc, dict):
        raise RequestRefused(400, "the body must be a JSON object")
    if _json_depth(doc) > MAX_JSON_DEPTH:
        raise RequestRefused(400, f"the JSON is nested deeper than {MAX_JSON_DEPTH} levels")
    action = doc.get("action")
    if not isinstance(action, str):
        raise RequestRefused(400, "action must be the string PICK or ABANDON")
    track_ids = doc.get("track_ids", [])
    if not isinstance(track_ids, list):
        raise RequestRefused(400, "track_ids must be a JSON list of track id strings")
    try:
        user_id = check_id("user_id", doc.get("user_id"))
        event = feedback_event(
            user_id,
            action.upper(),
            track_ids,
            feedback_id=check_id("feedback_id", doc.get("feedback_id"), required=False) or None,
            request_id=check_id("request_id", doc.get("request_id"), required=False) or None,
            session_id=check_id("session_id", doc.get("session_id"), required=False),
        )
        return check_feedback_event(event, user_id.encode())
    except InvalidEventError as exc:
        raise RequestRefused(400, str(exc)) from exc


class _ApiView(View):
    """A view whose refusals are one INFO line in the log and a JSON ``{"error": reason}``."""

    async def on_request_error(self, request: Request, exc: WebError) -> Response:
        logger.info("refused %s %s: %s %s", request.method, request.path, exc.code, exc.detail)
        return self.json({"error": exc.detail}, status=exc.code)


@dataclass(frozen=True)
class _ViewContext:
    """What the views share: the app's parts, the reply waiter, the bearer-token check."""

    app: faust.App
    tables: Tables
    components: object
    settings: object
    waiter: ReplyWaiter

    def authorise(self, request: Request) -> None:
        if not _authorised(self.settings, request):
            raise RequestRefused(401, "missing or wrong bearer token")


def define_views(app: faust.App, tables: Tables) -> None:
    """Register the HTTP views on ``app``, by resource: the page, health and metrics, tracks and
    the catalog, sessions, clips, feedback."""
    components = app.moodstream
    settings = components.settings
    waiter = ReplyWaiter(
        settings, settings.topic("recommendations"), components.dead_letters,
        refusals_topic=settings.topic("deadletters"),
    )  # fmt: skip
    context = _ViewContext(app, tables, components, settings, waiter)
    for define in (
        _page_and_health_views,
        _catalog_views,
        _session_view,
        _clip_view,
        _feedback_view,
    ):
        define(context)


def _page_and_health_views(context: _ViewContext) -> None:
    """``/``, ``/health``, ``/metrics``."""
    app, tables, components, waiter = (
        context.app,
        context.tables,
        context.components,
        context.waiter,
    )

    @app.page("/")
    class Home(View):
        """The web page: record or upload a clip, see the playlist, pick or abandon."""

        async def get(self, request: Request) -> Response:
            return self.html((Path(__file__).parent / "web" / "index.html").read_text())

    @app.page("/health")
    class Health(View):
        """Liveness, and whether this worker can answer: its tables are recovered and every
        model is loaded (``ready``)."""

        async def get(self, request: Request) -> Response:
            tables_ready = app.tables.recovery.completed.is_set() and not app.rebalancing
            hub = components.models
            models_ready = hub is None or hub.ready
            return self.json(
                {
                    "status": "ok",
                    "ready": tables_ready and models_ready,
                    "tables_ready": tables_ready,
                    "models_ready": models_ready,
                    "app_id": app.conf.id,
                    "tracks_local": len(tables.tracks),
                    "pending_replies": waiter.pending,
                    "models": {
                        "music": getattr(hub.music, "version", None) if hub else None,
                        "themes": hub.themes_version if hub else None,
                        "voice": getattr(hub.voice, "version", None) if hub else None,
                    },
                    # What each served model heard: its corpora, and a plain flag for a model
                    # trained on synthetic audio only (it has never heard a real voice).
                    "trained_on": hub.heard() if hub else {},
                }
            )

    @app.page("/metrics")
    class Metrics(View):
        """Prometheus text format."""

        async def get(self, request: Request) -> Response:
            from prometheus_client import generate_latest

            for tp in app.consumer.assignment():
                try:
                    metrics.CONSUMER_LAG.labels(topic=tp.topic, partition=str(tp.partition)).set(
                        partition_lag(app.consumer, tp)
                    )
                except Exception:  # noqa: BLE001,S110  (lag is best effort)
                    pass
            return self.bytes(
                generate_latest(metrics.REGISTRY), content_type="text/plain; version=0.0.4"
            )


def _catalog_views(context: _ViewContext) -> None:
    """``/api/tracks/{track_id}`` and ``/api/catalog/{emotion}``."""
    app, tables, authorise = context.app, context.tables, context.authorise

    @app.page("/api/tracks/{track_id}")
    class TrackView(_ApiView):
        """One track's table entry (routed to the worker that owns its partition)."""

        @app.table_route(table=tables.tracks, match_info="track_id")
        async def get(self, request: Request, track_id: str) -> Response:
            authorise(request)
            entry = tables.tracks.get(track_id)
            if entry is None:
                return self.json({"error": f"no track {track_id!r}"}, status=404)
            card = tables.cards.get(track_id)  # the theme, once the emotion's owner gave one
            theme = {"theme_id": card["theme_id"]} if card else {}
            return self.json({"track_id": track_id, **entry, **theme})

    @app.page("/api/catalog/{emotion}")
    class CatalogView(_ApiView):
        """Track cards of one emotion, by theme (the catalog is global: any worker answers)."""

        async def get(self, request: Request, emotion: str) -> Response:
            authorise(request)
            out = {
                theme: [{"track_id": t, **(tables.cards.get(t) or {})} for t in ids]
                for theme, ids in tables.cards.index.themes(emotion).items()
            }
            return self.json({"emotion": emotion, "themes": out})


def _session_view(context: _ViewContext) -> None:
    """``/api/users/{user_id}/session``."""
    app, tables, authorise = context.app, context.tables, context.authorise

    @app.page("/api/users/{user_id}/session")
    class SessionView(_ApiView):
        """A user's session (routed to the worker that owns the user's partition)."""

        @app.table_route(table=tables.sessions, match_info="user_id")
        async def get(self, request: Request, user_id: str) -> Response:
            authorise(request)
            session = tables.sessions.get(user_id)
            if session is None:
                return self.json({"error": f"no session for {user_id!r}"}, status=404)
            shown = normalise_session(session)
            voice = shown.pop("voice")  # the sums mean nothing to a reader: how many clips
            return self.json(
                {
                    "user_id": user_id,
                    **{k: v for k, v in shown.items() if k != "handled"},
                    "voice_clips": voice["n"] if voice else 0,
                }
            )


def _clip_view(context: _ViewContext) -> None:
    """``/api/clips``: a clip in, the recommendation (or the worker's refusal) out."""
    app, tables, authorise = context.app, context.tables, context.authorise
    components, settings, waiter = context.components, context.settings, context.waiter
    clip_codec = codec_for("VoiceClipSubmitted")

    @app.page("/api/clips")
    class ClipView(_ApiView):
        """POST a voice clip; get the recommendation."""

        async def post(self, request: Request) -> Response:
            authorise(request)
            try:
                user_id = check_id("user_id (query parameter)", request.query.get("user_id"))
                request_id = check_id("request_id", request.query.get("request_id"), required=False)
                session_id = check_id("session_id", request.query.get("session_id"), required=False)
            except InvalidEventError as exc:
                raise RequestRefused(400, str(exc)) from exc
            data = await read_body(
                request,
                limit=MAX_CLIP_BYTES,
                timeout_s=settings.web_body_timeout_s,
                what="the clip",
            )
            await _gate_clip(components.readers, data)
            if request_id and already_handled(tables.sessions.get(user_id), request_id):
                # This worker holds the listener's session and answered that id already: a
                # repeated request id is not answered again (docs/kafka-contract.md).
                raise RequestRefused(
                    409, f"request {request_id!r} of {user_id!r} was answered already: send a "
                    "new clip with a new request_id (or none)",
                )  # fmt: skip
            event = clip_event(
                user_id, audio=data, request_id=request_id or None, session_id=session_id
            )
            await waiter.start()
            async with waiter.expecting(user_id, event["request_id"]) as future:
                await components.topics.voice_clips.send(
                    key=user_id.encode(), value=clip_codec.encode(event)
                )
                try:
                    answer = await asyncio.wait_for(future, timeout=settings.web_reply_timeout_s)
                except RefusedByWorker as refused:
                    status = _REFUSAL_STATUS.get(refused.error_kind, 503)
                    headers = {}
                    if status == 429:
                        headers["Retry-After"] = str(math.ceil(settings.listener_clip_window_s))
                    logger.info("refused POST /api/clips: %d %s", status, refused)
                    return self.json(
                        {"error": refused.message, "kind": refused.error_kind,
                         "request_id": event["request_id"]},
                        status=status, headers=headers,
                    )  # fmt: skip
                except asyncio.TimeoutError:
                    return self.json(
                        {"error": "no answer in time", "request_id": event["request_id"]},
                        status=504,
                    )
            return self.json(answer)  # each playlist entry carries its audio_url


def _feedback_view(context: _ViewContext) -> None:
    """``/api/feedback``."""
    app, tables, authorise = context.app, context.tables, context.authorise
    components, settings = context.components, context.settings
    feedback_codec = codec_for("UserFeedback")

    @app.page("/api/feedback")
    class FeedbackView(_ApiView):
        """POST {"user_id", "action": "PICK"|"ABANDON", "track_ids": [...], "request_id"?}."""

        async def post(self, request: Request) -> Response:
            authorise(request)
            body = await read_body(
                request,
                limit=MAX_FEEDBACK_BODY_BYTES,
                timeout_s=settings.web_body_timeout_s,
                what="the feedback body",
            )
            event = parse_feedback_body(body)
            session = tables.sessions.get(event["user_id"])
            if event["action"] == "PICK" and session is not None:
                # This worker holds the listener's session: refuse a bad pick at once (the
                # worker that owns it dead-letters it otherwise, with the same reason).
                try:
                    check_pick(session, event["track_ids"])
                except InvalidEventError as exc:
                    raise RequestRefused(400, str(exc)) from exc
            await components.topics.feedback.send(
                key=event["user_id"].encode(), value=feedback_codec.encode(event)
            )
            return self.json({"accepted": event["feedback_id"]}, status=202)
