"""Durable crawl state, as small JSON objects in the object store next to the audio.

Why MinIO and not a Kafka-backed table: the crawler is a plain asyncio process, not a Faust
worker, and every decision it makes ("have I stored this track?", "did its event go out?") is
a point lookup right next to a write into the same store. Objects give read-your-writes on
one key, survive a ``kill -9`` at any instruction, and need no consumer to rebuild a table at
start. Layout in the audio bucket::

    crawl-state/<site>/meta/<sha256 of the five metadata fields>.json
        {"status": "stored" | "emitted", "track_id", "content_sha256", "object_key", "event": {...}}
    crawl-state/content/<content sha256>.json              {"track_id"}   written once emitted
                                                           (shared by all sites)
    crawl-state/<site>/failed/<metadata sha256>.json       {"url", "reason", "attempts", "at"}

``stored`` means the audio is in the store but its event may not have been acknowledged; a
restart sends the event again (the registration agent drops a repeated track id), then marks
it ``emitted``.
"""

from __future__ import annotations

import hashlib
import io
import json
import unicodedata

from minio import Minio
from minio.error import S3Error

__all__ = ["metadata_key", "CrawlState"]


def _norm(value: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", str(value)).casefold().split())


def metadata_key(metadata: dict) -> str:
    """SHA-256 over the five normalised metadata fields: equal fields, equal key (the paper's rule)."""
    fields = [
        _norm(metadata.get("title", "")),
        _norm(metadata.get("singer", "")),
        _norm(metadata.get("author", "")),
        f"{round(float(metadata.get('duration_s', 0.0)))}",
        _norm(metadata.get("album", "")),
    ]
    return hashlib.sha256("\x1f".join(fields).encode()).hexdigest()


class CrawlState:
    """Point lookups and writes of a site's crawl state (see the module docstring)."""

    def __init__(self, client: Minio, bucket: str, site: str) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = f"crawl-state/{site}"
        self.content_prefix = "crawl-state/content"

    def _get(self, key: str) -> dict | None:
        try:
            response = self.client.get_object(self.bucket, key)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject"):
                return None
            raise
        try:
            return json.loads(response.read())
        finally:
            response.close()
            response.release_conn()

    def _put(self, key: str, value: dict) -> None:
        data = json.dumps(value, sort_keys=True).encode()
        self.client.put_object(
            self.bucket, key, io.BytesIO(data), len(data), content_type="application/json"
        )

    def track(self, meta_key: str) -> dict | None:
        return self._get(f"{self.prefix}/meta/{meta_key}.json")

    def set_track(self, meta_key: str, value: dict) -> None:
        self._put(f"{self.prefix}/meta/{meta_key}.json", value)

    def content(self, content_sha256: str) -> dict | None:
        return self._get(f"{self.content_prefix}/{content_sha256}.json")

    def set_content(self, content_sha256: str, value: dict) -> None:
        self._put(f"{self.content_prefix}/{content_sha256}.json", value)

    def record_failure(self, meta_key: str, value: dict) -> None:
        previous = self._get(f"{self.prefix}/failed/{meta_key}.json") or {}
        value = {**value, "attempts": int(previous.get("attempts", 0)) + 1}
        self._put(f"{self.prefix}/failed/{meta_key}.json", value)

    def clear_failure(self, meta_key: str) -> None:
        self.client.remove_object(self.bucket, f"{self.prefix}/failed/{meta_key}.json")

    def failures(self) -> list[dict]:
        out = []
        for obj in self.client.list_objects(self.bucket, prefix=f"{self.prefix}/failed/"):
            value = self._get(obj.object_name)
            if value:
                out.append(value)
        return out
