"""The crawler: site pages -> verified audio in MinIO -> track-discovered events on Kafka.

Order that loses nothing, per track:

1. the track page gives the five metadata fields; their key is looked up in the crawl state
   (:mod:`crawler.state`): *emitted* -> a duplicate, nothing fetched; *stored* -> the event
   is sent again (repair after a crash), nothing fetched;
2. the audio is fetched (retries, length check), must decode, and is hashed; audio already
   emitted under other metadata is a content duplicate;
3. the audio goes to ``audio/<sha256>.<ext>`` (content-addressed, metadata on the object);
4. the state says *stored* (with the event to send);
5. the Avro ``TrackDiscovered`` event goes to Kafka in a transaction, keyed by track id = ``t``
   + the first 24 hex digits of the content hash, to a partition fixed by the hash (recorded
   in step 4);
6. the state says *emitted*.

A crash between any two steps is repaired by the next run. Events are sent in Kafka
transactions under one transactional id per site: a restarted crawler fences its killed
predecessor (its unfinished send is aborted, or refused when it arrives late), then, for a
track left *stored*, reads the recorded partition (``read_committed``) from shortly before the
store time. When the event is there (a crash between 5 and 6) it is not sent again. Readers of
committed data see every track exactly once after a ``kill -9``; read-uncommitted readers may
also see an aborted copy, which carries the same track id (the registration agent drops it).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import re
import time
from dataclasses import asdict, dataclass
from urllib.parse import urljoin, urlsplit

from crawler.fetch import Fetcher, FetchError
from crawler.profile import SiteProfile
from crawler.state import CrawlState, metadata_key
from crawler.target import CrawlTarget
from models.storage import minio_client
from schemas.codec import codec_for
from schemas.emotions import EMOTIONS

__all__ = ["CrawlCounters", "Crawler", "audio_suffix", "parse_duration", "track_id_for"]

logger = logging.getLogger(__name__)

_AUDIO_TYPES = {
    ".ogg": "audio/ogg",
    ".flac": "audio/flac",
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
}


def audio_suffix(audio_url: str) -> str:
    """The file suffix of ``audio_url``'s path (``.ogg``), lower case, or "" when it has none
    or an odd one: object keys keep to the audio layout the worker checks (letters and digits
    after the dot, no query string)."""
    name = urlsplit(audio_url).path.rsplit("/", 1)[-1]
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return f".{suffix}" if re.fullmatch(r"[a-z0-9]{1,8}", suffix) else ""


@dataclass
class CrawlCounters:
    """What a crawl did; also the metrics the crawler exposes."""

    pages: int = 0
    tracks_seen: int = 0
    new: int = 0
    duplicate: int = 0
    duplicate_content: int = 0
    failed: int = 0
    repaired: int = 0
    skipped: int = 0
    """Links the crawler's rules forbid (robots.txt, other hosts): not fetched, not failures."""
    requests: int = 0
    retries: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def parse_duration(text: str | None) -> float:
    """Seconds from "m:ss", "h:mm:ss" or a plain number; 0.0 when absent or unreadable."""
    if not text:
        return 0.0
    try:
        parts = [float(p) for p in text.strip().split(":")]
    except ValueError:
        return 0.0
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + part
    return seconds


def track_id_for(content_sha256: str) -> str:
    """The track id: derived from the audio content, so identical audio is one track."""
    return "t" + content_sha256[:24]


def _decoded_duration(data: bytes) -> float:
    """Decode the whole file (the acceptance check); return its duration in seconds."""
    from models.audio import load_audio

    sr = 8000  # the check is "does it decode"; a low rate keeps it cheap
    return float(load_audio(data, sr=sr).size / sr)


class Crawler:
    """One site profile's crawl; ``await Crawler(...).run()`` is one pass over the site."""

    def __init__(
        self,
        profile: SiteProfile,
        target: CrawlTarget,
        *,
        client=None,
        progress=None,
        backoff_base_s: float = 0.2,
    ) -> None:
        self.profile = profile
        self.target = target
        self.client = client or minio_client(target.store)
        self.state = CrawlState(self.client, target.bucket, profile.name)
        self.codec = codec_for("TrackDiscovered")
        self.topic = target.topic
        self.progress = progress
        self.backoff_base_s = backoff_base_s
        self.counters = CrawlCounters()
        self._producer = None
        self._visited_pages: set[str] = set()
        self._visited_tracks: set[str] = set()
        self._track_slots = asyncio.Semaphore(max(1, profile.concurrency))
        self._transaction_lock = asyncio.Lock()

    async def _io(self, fn, *args, **kwargs):
        return await asyncio.to_thread(fn, *args, **kwargs)

    async def run(self) -> CrawlCounters:
        """Crawl every start URL depth-first; return the counters of this pass."""
        from aiokafka import AIOKafkaProducer

        started = time.monotonic()
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.target.kafka_bootstrap,
            acks="all",
            enable_idempotence=True,
            transactional_id=f"{self.target.transactional_id_prefix}-crawler-{self.profile.name}",
        )
        await self._producer.start()  # fences any earlier incarnation of this crawler
        try:
            async with Fetcher(self.profile, backoff_base_s=self.backoff_base_s) as fetcher:
                self._fetcher = fetcher
                for url in self.profile.start_urls:
                    await self._list_page(url, None)
                self.counters.requests = fetcher.requests
                self.counters.retries = fetcher.retries
        finally:
            await self._producer.stop()
        self.counters.seconds = round(time.monotonic() - started, 3)
        logger.info("crawl of %s done: %s", self.profile.name, self.counters.to_dict())
        return self.counters

    async def _list_page(self, url: str, emotion: str | None) -> None:
        if url in self._visited_pages or not self.profile.allows(url):
            return
        self._visited_pages.add(url)
        try:
            page = await self._fetcher.get(url)
        except FetchError as exc:
            logger.warning("list page skipped: %s", exc)
            return
        self.counters.pages += 1
        found = self.profile.find("playlist_emotion", page.text)
        if found and found.lower() in EMOTIONS:
            emotion = found.lower()
        tracks = [urljoin(url, link) for link in self.profile.find_all("track_link", page.text)]
        await asyncio.gather(*(self._track_slot(t, emotion) for t in tracks))
        for link in self.profile.find_all("playlist_link", page.text):
            await self._list_page(urljoin(url, link), None)
        next_page = self.profile.find("next_page", page.text)
        if next_page:
            await self._list_page(urljoin(url, next_page), emotion)

    async def _track_slot(self, url: str, emotion: str | None) -> None:
        if url in self._visited_tracks:
            return
        self._visited_tracks.add(url)
        async with self._track_slots:
            await self._track(url, emotion)
        if self.progress is not None:
            self.progress(1)

    async def _track(self, url: str, emotion: str | None) -> None:
        self.counters.tracks_seen += 1
        try:
            page = await self._fetcher.get(url)
        except FetchError as exc:
            if exc.refused:
                self.counters.skipped += 1
                logger.info("not fetched: %s", exc)
                return
            self.counters.failed += 1
            logger.warning("track page failed: %s", exc)
            return
        text = page.text
        metadata = {
            "title": self.profile.find("title", text) or "",
            "singer": self.profile.find("singer", text) or "",
            "author": self.profile.find("author", text) or "",
            "duration_s": parse_duration(self.profile.find("duration", text)),
            "album": self.profile.find("album", text) or "",
        }
        audio_link = self.profile.find("audio_url", text)
        meta_key = metadata_key(metadata)
        if not metadata["title"] or not audio_link:
            await self._fail(meta_key, url, "the track page has no title or audio link")
            return
        known = await self._io(self.state.track, meta_key)
        if known and known.get("status") == "emitted":
            self.counters.duplicate += 1
            return
        if known and known.get("status") == "stored":
            await self._repair(meta_key, known)
            return
        audio_url = urljoin(url, audio_link)
        try:
            audio = await self._fetcher.get(audio_url)
        except FetchError as exc:
            await self._fail(meta_key, url, exc.reason)
            return
        if len(audio.body) > self.profile.max_audio_mb * 1e6:
            await self._fail(
                meta_key, url, f"audio is {len(audio.body) / 1e6:.0f} MB, over the limit"
            )
            return
        try:
            duration = await asyncio.to_thread(_decoded_duration, audio.body)
        except Exception as exc:  # noqa: BLE001  (any decode failure rejects the file)
            await self._fail(meta_key, url, f"audio does not decode: {exc}")
            return
        content_sha256 = hashlib.sha256(audio.body).hexdigest()
        same_audio = await self._io(self.state.content, content_sha256)
        if same_audio:
            self.counters.duplicate_content += 1
            await self._io(
                self.state.set_track,
                meta_key,
                {"status": "emitted", **same_audio, "duplicate_of": same_audio["track_id"]},
            )
            return
        suffix = audio_suffix(audio_url)
        object_key = f"tracks/{content_sha256}{suffix}"
        track_id = track_id_for(content_sha256)
        await self._io(
            self.client.put_object, self.target.bucket, object_key, io.BytesIO(audio.body),
            len(audio.body), content_type=_AUDIO_TYPES.get(suffix, "application/octet-stream"),
            metadata={"track-id": track_id, "source-url": audio_url,
                      **{f"meta-{k}": str(v).encode("ascii", "replace").decode() for k, v in metadata.items()}},
        )  # fmt: skip
        event = {
            "track_id": track_id,
            "source_site": self.profile.name,
            "source_url": url,
            "metadata": {**metadata, "duration_s": round(duration, 3)},
            "object_key": object_key,
            "content_sha256": content_sha256,
            "playlist_emotion": emotion,
            "discovered_at": int(time.time() * 1000),
        }
        record = {"status": "stored", "track_id": track_id, "content_sha256": content_sha256,
                  "object_key": object_key, "event": event, "stored_at": int(time.time() * 1000),
                  "partition": await self._partition(content_sha256)}  # fmt: skip
        await self._io(self.state.set_track, meta_key, record)
        await self._emit(meta_key, event, record)
        await self._io(self.state.clear_failure, meta_key)  # a later crawl got it: no longer failed
        self.counters.new += 1

    async def _partition(self, content_sha256: str) -> int:
        partitions = sorted(await self._producer.partitions_for(self.topic))
        return partitions[int(content_sha256[:8], 16) % len(partitions)]

    async def _already_sent(self, record: dict) -> bool:
        """Whether a *stored* track's event is committed in its partition (from shortly before
        it was stored up to the end)."""
        from aiokafka import AIOKafkaConsumer, TopicPartition

        tp = TopicPartition(self.topic, record["partition"])
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.target.kafka_bootstrap,
            enable_auto_commit=False,
            isolation_level="read_committed",
        )
        await consumer.start()
        try:
            consumer.assign([tp])
            start = await consumer.offsets_for_times({tp: max(0, record["stored_at"] - 5000)})
            end = (await consumer.end_offsets([tp]))[tp]
            if start[tp] is None:
                return False
            consumer.seek(tp, start[tp].offset)
            while await consumer.position(tp) < end:
                batch = await consumer.getmany(tp, timeout_ms=1000)
                for message in batch.get(tp, []):
                    if message.key == record["track_id"].encode():
                        return True
            return False
        finally:
            await consumer.stop()

    async def _repair(self, meta_key: str, record: dict) -> None:
        if await self._already_sent(record):
            await self._mark_emitted(meta_key, record)
            logger.info("repaired %s: its event had gone out before the crash", record["track_id"])
        else:
            await self._emit(meta_key, record["event"], record)
            logger.info(
                "repaired %s: event sent for audio stored before a crash", record["track_id"]
            )
        self.counters.repaired += 1

    async def _emit(self, meta_key: str, event: dict, record: dict) -> None:
        async with self._transaction_lock, self._producer.transaction():
            await self._producer.send_and_wait(
                self.topic, self.codec.encode(event), key=event["track_id"].encode(),
                partition=record["partition"],
            )  # fmt: skip
        await self._mark_emitted(meta_key, record)

    async def _mark_emitted(self, meta_key: str, record: dict) -> None:
        await self._io(
            self.state.set_content,
            record["content_sha256"],
            {
                "track_id": record["track_id"],
                "object_key": record["object_key"],
                "content_sha256": record["content_sha256"],
            },
        )
        await self._io(self.state.set_track, meta_key, {**record, "status": "emitted"})

    async def _fail(self, meta_key: str, url: str, reason: str) -> None:
        self.counters.failed += 1
        logger.warning("track failed: %s: %s", url, reason)
        await self._io(
            self.state.record_failure,
            meta_key,
            {"url": url, "reason": reason, "at": int(time.time() * 1000)},
        )
