"""HTTP views of the worker: the clip -> recommendation API, feedback, state, health, metrics.

``POST /api/clips?user_id=U`` (raw audio body, or multipart with a ``clip`` file field)
produces a ``VoiceClipSubmitted`` event and waits (request/reply through Kafka, default 20 s)
for the recommendation carrying its request id. When ``MOODSTREAM_API_TOKEN`` is set, every
``/api`` call needs ``Authorization: Bearer <token>``. Bodies over 10 MB get 413; audio that
does not decode, or is shorter than 0.5 s or longer than 30 s, gets 400/413 with the reason,
before anything reaches Kafka.
"""

from __future__ import annotations

import asyncio
import hmac
import io
import json
import time
import uuid
from pathlib import Path

import faust
from faust.web import Request, Response, View

from schemas.codec import codec_for
from streams import metrics
from streams.tables import Tables

__all__ = ["define_views", "MAX_CLIP_BYTES", "ReplyWaiter"]

MAX_CLIP_BYTES = 10 * 1024 * 1024
_REPLY_TIMEOUT_S = 20.0


class ReplyWaiter:
    """Waits for recommendations by request id: reads the whole recommendations topic (no
    consumer group, from the end at start), so a reply made by any worker is seen."""

    def __init__(self, settings, topic: str) -> None:
        self.settings = settings
        self.topic = topic
        self._futures: dict[str, asyncio.Future] = {}
        self._task: asyncio.Task | None = None
        self._codec = codec_for("Recommendation")
        self._ready = asyncio.Event()

    async def _run(self) -> None:
        from aiokafka import AIOKafkaConsumer

        consumer = AIOKafkaConsumer(
            self.topic, bootstrap_servers=self.settings.kafka_bootstrap, group_id=None,
            auto_offset_reset="latest", enable_auto_commit=False,
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
                    answer = self._codec.decode(message.value)
                except Exception:  # noqa: BLE001  (not ours to judge: the DLQ path is the agent's)
                    continue
                future = self._futures.pop(answer["request_id"], None)
                if future is not None and not future.done():
                    future.set_result(answer)
        finally:
            await consumer.stop()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())
        await asyncio.wait_for(self._ready.wait(), timeout=30)

    def expect(self, request_id: str) -> asyncio.Future:
        future = asyncio.get_event_loop().create_future()
        self._futures[request_id] = future
        return future


def _authorised(settings, request: Request) -> bool:
    if not settings.api_token:
        return True
    header = request.headers.get("Authorization", "")
    return hmac.compare_digest(header.encode(), f"Bearer {settings.api_token}".encode())


def _check_clip(data: bytes) -> str | None:
    """A reason to refuse the clip, or None (header-level checks; cheap)."""
    import soundfile as sf

    from models.voice import MAX_CLIP_S, MIN_CLIP_S

    if not data:
        return "the body is empty: send the clip's bytes (wav, flac, ogg or mp3)"
    try:
        info = sf.info(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001
        return f"the clip does not decode: {exc}"
    if info.duration > MAX_CLIP_S:
        return f"the clip is {info.duration:.1f} s long; the limit is {MAX_CLIP_S:.0f} s"
    if info.duration < MIN_CLIP_S:
        return f"the clip is {info.duration:.2f} s long; at least {MIN_CLIP_S} s is needed"
    return None


def define_views(app: faust.App, tables: Tables) -> None:
    """Register the HTTP views on ``app``."""
    components = app.moodstream
    settings = components.settings
    clip_codec = codec_for("VoiceClipSubmitted")
    feedback_codec = codec_for("UserFeedback")
    waiter = ReplyWaiter(settings, settings.topic("recommendations"))

    def denied(view: View) -> Response:
        return view.json({"error": "missing or wrong bearer token"}, status=401)

    @app.page("/")
    class Home(View):
        """The web page: record or upload a clip, see the playlist, pick or abandon."""

        async def get(self, request: Request) -> Response:
            return self.html((Path(__file__).parent / "web" / "index.html").read_text())

    @app.page("/health")
    class Health(View):
        """Liveness and a summary of this worker's local state."""

        async def get(self, request: Request) -> Response:
            ready = app.tables.recovery.completed.is_set() and not app.rebalancing
            hub = components.models
            return self.json(
                {
                    "status": "ok",
                    "ready": ready,
                    "app_id": app.conf.id,
                    "tracks_local": len(tables.tracks),
                    "models": {
                        "music": getattr(hub.music, "version", None) if hub else None,
                        "themes": hub.themes_version if hub else None,
                        "voice": getattr(hub.voice, "version", None) if hub else None,
                    },
                }
            )

    @app.page("/metrics")
    class Metrics(View):
        """Prometheus text format."""

        async def get(self, request: Request) -> Response:
            from prometheus_client import generate_latest

            for tp in app.consumer.assignment():
                try:
                    highwater = app.consumer.highwater(tp)
                    read = app.consumer._read_offset.get(tp)  # noqa: SLF001  (last offset read)
                    position = 0 if read is None else read + 1
                    metrics.CONSUMER_LAG.labels(topic=tp.topic, partition=str(tp.partition)).set(
                        max(0, (highwater or 0) - position)
                    )
                except Exception:  # noqa: BLE001,S110  (lag is best effort)
                    pass
            return self.bytes(
                generate_latest(metrics.REGISTRY), content_type="text/plain; version=0.0.4"
            )

    @app.page("/api/tracks/{track_id}")
    class TrackView(View):
        """One track's table entry (routed to the worker that owns its partition)."""

        @app.table_route(table=tables.tracks, match_info="track_id")
        async def get(self, request: Request, track_id: str) -> Response:
            if not _authorised(settings, request):
                return denied(self)
            entry = tables.tracks.get(track_id)
            if entry is None:
                return self.json({"error": f"no track {track_id!r}"}, status=404)
            return self.json({"track_id": track_id, **entry})

    @app.page("/api/catalog/{emotion}")
    class CatalogView(View):
        """Track cards of one emotion, by theme (the catalog is global: any worker answers)."""

        async def get(self, request: Request, emotion: str) -> Response:
            if not _authorised(settings, request):
                return denied(self)
            themes = tables.catalog.get(emotion) or {}
            out = {}
            for theme, ids in sorted(themes.items(), key=lambda kv: int(kv[0])):
                out[theme] = [{"track_id": t, **(tables.cards.get(t) or {})} for t in ids]
            return self.json({"emotion": emotion, "themes": out})

    @app.page("/api/users/{user_id}/session")
    class SessionView(View):
        """A user's session (routed to the worker that owns the user's partition)."""

        @app.table_route(table=tables.sessions, match_info="user_id")
        async def get(self, request: Request, user_id: str) -> Response:
            if not _authorised(settings, request):
                return denied(self)
            session = tables.sessions.get(user_id)
            if session is None:
                return self.json({"error": f"no session for {user_id!r}"}, status=404)
            return self.json(
                {"user_id": user_id, **{k: v for k, v in session.items() if k != "handled"}}
            )

    @app.page("/api/clips")
    class ClipView(View):
        """POST a voice clip; get the recommendation."""

        async def post(self, request: Request) -> Response:
            if not _authorised(settings, request):
                return denied(self)
            user_id = request.query.get("user_id", "")
            if not user_id:
                return self.json({"error": "user_id is required (query parameter)"}, status=400)
            if (request.content_length or 0) > MAX_CLIP_BYTES:
                return self.json(
                    {"error": f"the clip is over {MAX_CLIP_BYTES // 2**20} MB"}, status=413
                )
            if request.content_type.startswith("multipart/"):
                form = await request.post()
                field = form.get("clip")
                data = (
                    field.file.read(MAX_CLIP_BYTES + 1)
                    if field is not None and hasattr(field, "file")
                    else b""
                )
            else:
                data = await request.content.read(MAX_CLIP_BYTES + 1)
            if len(data) > MAX_CLIP_BYTES:
                return self.json(
                    {"error": f"the clip is over {MAX_CLIP_BYTES // 2**20} MB"}, status=413
                )
            problem = await asyncio.to_thread(_check_clip, data)
            if problem:
                return self.json({"error": problem}, status=413 if "limit" in problem else 400)
            request_id = request.query.get("request_id") or uuid.uuid4().hex
            await waiter.start()
            future = waiter.expect(request_id)
            event = {
                "request_id": request_id, "user_id": user_id,
                "session_id": request.query.get("session_id", ""), "audio": data, "audio_key": None,
                "codec": "auto", "sample_rate": None, "submitted_at": int(time.time() * 1000),
            }  # fmt: skip
            await components.topics.voice_clips.send(
                key=user_id.encode(), value=clip_codec.encode(event)
            )
            try:
                answer = await asyncio.wait_for(future, timeout=_REPLY_TIMEOUT_S)
            except asyncio.TimeoutError:
                return self.json(
                    {"error": "no answer in time", "request_id": request_id}, status=504
                )
            store = components.store
            for entry in answer["playlist"]:
                if store is not None:
                    entry["audio_url"] = await asyncio.to_thread(
                        store.presigned_audio_url, entry["object_key"]
                    )
            return self.json(answer)

    @app.page("/api/feedback")
    class FeedbackView(View):
        """POST {"user_id", "action": "PICK"|"ABANDON", "track_ids": [...], "request_id"?}."""

        async def post(self, request: Request) -> Response:
            if not _authorised(settings, request):
                return denied(self)
            try:
                body = json.loads(await request.text())
                action = str(body["action"]).upper()
                user_id = str(body["user_id"])
                if action not in ("PICK", "ABANDON"):
                    raise ValueError(f"action must be PICK or ABANDON, not {action!r}")
                track_ids = [str(t) for t in body.get("track_ids", [])]
            except (KeyError, ValueError, TypeError) as exc:
                return self.json({"error": f"bad feedback: {exc}"}, status=400)
            event = {
                "feedback_id": body.get("feedback_id") or uuid.uuid4().hex, "user_id": user_id,
                "session_id": str(body.get("session_id", "")), "request_id": body.get("request_id"),
                "action": action, "track_ids": track_ids, "created_at": int(time.time() * 1000),
            }  # fmt: skip
            await components.topics.feedback.send(
                key=user_id.encode(), value=feedback_codec.encode(event)
            )
            return self.json({"accepted": event["feedback_id"]}, status=202)
