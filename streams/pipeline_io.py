"""Object-store I/O of the ingest and voice paths (blocking; agents call it in threads)."""

from __future__ import annotations

import io
import logging
import time

import numpy as np
from minio.error import S3Error

from models.audio import load_audio
from models.exceptions import AudioTooLargeError
from models.features.music import DEFAULT_SPEC, segment_features
from models.storage import minio_client
from models.voice import MAX_CLIP_BYTES
from streams.events import check_track_object_key
from streams.exceptions import TrackAudioMissingError
from streams.settings import Settings

__all__ = ["PipelineStore", "MAX_TRACK_SECONDS"]

logger = logging.getLogger(__name__)

#: Longest track the ingest path analyses (longer audio is dead-lettered with the reason).
MAX_TRACK_SECONDS = 20 * 60


def _read(client, bucket: str, key: str) -> bytes:
    response = client.get_object(bucket, key)
    try:
        return response.read()
    finally:
        response.close()
        response.release_conn()


class PipelineStore:
    """Audio in, segment matrices out, voice clips by key."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client = minio_client(settings.object_store)
        self.music_spec = DEFAULT_SPEC.version

    def features_key(self, track_id: str) -> str:
        return f"{self.music_spec}/{track_id}.npy"

    def extract_features(self, track: dict) -> tuple[str, int]:
        """Compute (or reuse) a track's segment matrix; return (features key, n_segments)."""
        key = self.features_key(track["track_id"])
        try:
            matrix = self.load_features(key)  # a replay: the matrix is already stored
            return key, int(matrix.shape[0])
        except S3Error as exc:
            if exc.code not in ("NoSuchKey", "NoSuchObject"):
                raise
        audio = _read(self.client, self.settings.bucket_audio, track["object_key"])
        y = load_audio(audio, sr=DEFAULT_SPEC.sr, max_duration_s=MAX_TRACK_SECONDS)
        matrix = segment_features(y=y, sr=DEFAULT_SPEC.sr)
        buf = io.BytesIO()
        np.save(buf, matrix.astype(np.float32))
        data = buf.getvalue()
        self.client.put_object(self.settings.bucket_features, key, io.BytesIO(data), len(data))
        return key, int(matrix.shape[0])

    def save_snapshot(self, key: str, data: bytes) -> None:
        """Store a theme owner's snapshot (features bucket; see streams.theme_owner)."""
        self.client.put_object(self.settings.bucket_features, key, io.BytesIO(data), len(data))

    def load_snapshot(self, key: str) -> bytes:
        return _read(self.client, self.settings.bucket_features, key)

    def delete_snapshot(self, key: str) -> None:
        self.client.remove_object(self.settings.bucket_features, key)

    def load_features(self, key: str) -> np.ndarray:
        return np.load(io.BytesIO(_read(self.client, self.settings.bucket_features, key)))

    def music_embedding(self, track: dict, classifier) -> np.ndarray:
        """The track's embedding for ``classifier`` (an ``EmbeddingMusicClassifier``): stored
        beside the segment matrix under ``<embedding version>/<track_id>.npy`` the first time,
        read back on a replay."""
        from models.musicnn import MUSICNN_SR

        key = f"{classifier.embedding_version}/{track['track_id']}.npy"
        try:
            return self.load_features(key)
        except S3Error as exc:
            if exc.code not in ("NoSuchKey", "NoSuchObject"):
                raise
        try:
            audio = _read(self.client, self.settings.bucket_audio, track["object_key"])
        except S3Error as exc:
            if exc.code not in ("NoSuchKey", "NoSuchObject"):
                raise
            raise TrackAudioMissingError(
                f"track {track['track_id']}: no audio at {self.settings.bucket_audio}/"
                f"{track['object_key']}, and music model {classifier.version} reads the audio "
                "(musicnn embedding): store the audio first, or serve a segment-only model "
                "(`moodstream train music --model method`)"
            ) from exc
        y = load_audio(audio, sr=MUSICNN_SR, max_duration_s=MAX_TRACK_SECONDS)
        vector = classifier.embed(y).astype(np.float32)
        buf = io.BytesIO()
        np.save(buf, vector)
        data = buf.getvalue()
        self.client.put_object(self.settings.bucket_features, key, io.BytesIO(data), len(data))
        return vector

    def load_clip(self, key: str) -> bytes:
        """The encoded clip stored under ``key`` in the clips bucket.

        Raises
        ------
        AudioTooLargeError
            The object is over ``MAX_CLIP_BYTES``: refused from its size, before it is read.
        """
        size = self.client.stat_object(self.settings.bucket_clips, key).size
        if size > MAX_CLIP_BYTES:
            raise AudioTooLargeError(
                f"the clip object {key!r} is {size / 2**20:.1f} MiB; the limit is "
                f"{MAX_CLIP_BYTES // 2**20} MiB"
            )
        response = self.client.get_object(self.settings.bucket_clips, key)
        try:  # never more than the limit, even if the object grew since the stat
            data = response.read(MAX_CLIP_BYTES + 1)
        finally:
            response.close()
            response.release_conn()
        if len(data) > MAX_CLIP_BYTES:
            raise AudioTooLargeError(
                f"the clip object {key!r} is over {MAX_CLIP_BYTES // 2**20} MiB"
            )
        return data

    def keep_dead_letter_payload(self, key: str, data: bytes) -> str:
        """Store a dead letter's payload too large to travel inline (clips bucket); return
        ``bucket/key``, the dead letter's ``payload_key``."""
        self.client.put_object(self.settings.bucket_clips, key, io.BytesIO(data), len(data))
        return f"{self.settings.bucket_clips}/{key}"

    def playable_urls(self, object_keys: list[str]) -> tuple[list[str | None], int]:
        """A URL per track audio object that plays it without the store's credentials (a
        presigned GET, which also serves HTTP Range requests), and when they expire
        (milliseconds since the epoch): ``audio_url_ttl_s`` from now. None for a key outside
        the audio layout or that cannot be signed (logged): a playlist leaves that card out
        rather than failing (a forged card must not break every playlist that draws it).

        Signing is local (HMAC, with the configured region): no request to the store."""
        from datetime import timedelta

        ttl = timedelta(seconds=self.settings.audio_url_ttl_s)
        expires_at = int((time.time() + self.settings.audio_url_ttl_s) * 1000)
        urls: list[str | None] = []
        for key in object_keys:
            try:
                check_track_object_key(key)
                urls.append(
                    self.client.presigned_get_object(self.settings.bucket_audio, key, expires=ttl)
                )
            except Exception as exc:  # noqa: BLE001  (this card only: it is left out)
                logger.warning("track audio %r cannot be played (%s); left out", key, exc)
                urls.append(None)
        return urls, expires_at
