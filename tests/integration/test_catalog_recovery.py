"""The catalog after ``kill -9`` and a restart (issue 15, item 2).

The global tables were kept in Faust's RocksDB store, which files a write under the partition of
the event that made it: a key written from events of several partitions had a copy in each
partition's database, and after a restart the first copy found was served, often an older one
(645 labelled tracks before a restart, 642 after); the next label wrote the stale list back.
"""

from __future__ import annotations

import io
import shutil
import uuid

import numpy as np
import pytest

from models.storage import minio_client
from schemas.codec import codec_for
from schemas.emotions import EMOTIONS
from streams.topics import ensure_topics
from streams.worker_process import WorkerProcess
from tests.integration.kafka_helpers import consume, producer, wait_for
from tests.schemas.samples import SAMPLE_EVENTS

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FEATURES_READY = codec_for("TrackFeaturesReady")


def _send_tracks(settings, ids: list[str], seed: int) -> None:
    """Segment matrices into the features bucket and their TrackFeaturesReady events (keyed by
    track id, so they arrive on every partition)."""
    client = minio_client(settings.object_store)
    rng = np.random.default_rng(seed)
    prod = producer(settings)
    for track_id in ids:
        buf = io.BytesIO()
        np.save(buf, rng.normal(size=(8, 62)).astype(np.float32))
        key = f"{SAMPLE_EVENTS['TrackFeaturesReady']['feature_spec']}/{track_id}.npy"
        client.put_object(settings.bucket_features, key, io.BytesIO(buf.getvalue()), buf.tell())
        event = {
            **SAMPLE_EVENTS["TrackFeaturesReady"],
            "track_id": track_id,
            "features_key": key,
            "n_segments": 8,
        }
        prod.send(
            settings.topic("tracks.features"),
            key=track_id.encode(),
            value=FEATURES_READY.encode(event),
        )
    prod.flush()
    prod.close()


def _served(worker) -> dict[str, dict[str, list[str]]]:
    """The catalog as the worker serves it: emotion -> theme -> track ids."""
    out = {}
    for emotion in EMOTIONS:
        themes = worker.get(f"/api/catalog/{emotion}")["themes"]
        out[emotion] = {t: [c["track_id"] for c in cards] for t, cards in themes.items()}
    return out


def _logged(settings, expected_total: int) -> dict[str, dict[str, list[str]]]:
    """The catalog as the cards' changelog says: each track's last card, grouped and sorted."""
    import json

    def latest(messages) -> dict:
        last = {}
        for m in messages:
            last[json.loads(m.key)] = json.loads(m.value) if m.value is not None else None
        return last

    messages = consume(
        settings, f"{settings.app_id}-cards-changelog",
        until=lambda m: len(latest(m)) >= expected_total, timeout_s=60,
    )  # fmt: skip
    out: dict[str, dict[str, list[str]]] = {e: {} for e in EMOTIONS}
    for track_id, card in sorted(latest(messages).items()):
        if card is not None:
            out[card["emotion"]].setdefault(str(card["theme_id"]), []).append(track_id)
    return {e: dict(sorted(themes.items(), key=lambda kv: int(kv[0]))) for e, themes in out.items()}


def _count(catalog: dict) -> int:
    return sum(len(ids) for themes in catalog.values() for ids in themes.values())


def test_the_catalog_after_kill_9_equals_its_changelog_and_loses_nothing(
    network_music_settings, tmp_path
) -> None:
    tag = uuid.uuid4().hex[:8]
    settings = network_music_settings.replace(
        topic_prefix=f"catalog-{tag}", app_id=f"catalog-{tag}"
    )
    ensure_topics(settings)
    first = [f"c-{i:03d}" for i in range(32)]
    _send_tracks(settings, first, seed=1)
    worker = WorkerProcess(settings, tmp_path).start()
    try:
        wait_for(lambda: _count(_served(worker)) == len(first), 180, "32 tracks labelled")
        before = _served(worker)
        assert before == _logged(settings, len(first))

        worker.kill()  # the local store is kept
        worker.start(timeout_s=120)
        wait_for(lambda: _served(worker) == before, 60, "the catalog after the restart")

        more = [f"c-{i:03d}" for i in range(32, 48)]
        _send_tracks(settings, more, seed=2)
        wait_for(lambda: _count(_served(worker)) >= len(first) + len(more), 180, "16 more")
        after = _served(worker)
        ids = sorted(t for themes in after.values() for members in themes.values() for t in members)
        assert ids == sorted(first + more)  # every track once, none lost by the restart
        assert after == _logged(settings, len(first) + len(more))

        worker.kill()
        shutil.rmtree(settings.home / "faust", ignore_errors=True)  # and without the store
        worker.start(timeout_s=120)
        wait_for(lambda: _served(worker) == after, 60, "the catalog rebuilt from its changelog")
    finally:
        worker.stop()
