"""A real Faust worker against the real broker: the thin ingest path, crash recovery, dead letters."""

from __future__ import annotations

import shutil

import pytest

from schemas.codec import codec_for
from streams.topics import TOPIC_NAMES, ensure_topics
from streams.worker_process import WorkerProcess
from tests.integration.kafka_helpers import consume, producer, wait_for
from tests.schemas.samples import SAMPLE_EVENTS

pytestmark = pytest.mark.integration

DISCOVERED = codec_for("TrackDiscovered")


def _track(i: int) -> dict:
    event = dict(SAMPLE_EVENTS["TrackDiscovered"])
    event["track_id"] = f"t-{i:04d}"
    event["metadata"] = {**event["metadata"], "title": f"Track {i}"}
    return event


@pytest.fixture()
def worker_settings(isolated):
    assert len(ensure_topics(isolated)) == len(TOPIC_NAMES)
    assert ensure_topics(isolated) == []  # idempotent
    return isolated


def test_events_flow_state_survives_sigkill_and_garbage_is_dead_lettered(worker_settings, tmp_path):
    settings = worker_settings
    prod = producer(settings)
    first = [_track(i) for i in range(6)]
    for event in first:
        prod.send(
            settings.topic("tracks.discovered"),
            key=event["track_id"].encode(),
            value=DISCOVERED.encode(event),
        )
    prod.send(
        settings.topic("tracks.discovered"),
        key=first[0]["track_id"].encode(),
        value=DISCOVERED.encode(first[0]),
    )  # duplicate
    prod.flush()

    worker = WorkerProcess(settings, tmp_path).start()
    try:
        registered = consume(
            settings, settings.topic("tracks.registered"), until=lambda m: len(m) >= 6
        )
        assert sorted(m.key for m in registered) == sorted(e["track_id"].encode() for e in first)
        before = {e["track_id"]: worker.get(f"/api/tracks/{e['track_id']}") for e in first}
        assert before["t-0003"]["discovered"]["metadata"]["title"] == "Track 3"

        # Garbage in the middle of good events: dead-lettered with its offset, the worker goes on.
        prod.send(settings.topic("tracks.discovered"), key=b"junk", value=b"\x00garbage\xff")
        late = _track(99)
        prod.send(settings.topic("tracks.discovered"), key=b"t-0099", value=DISCOVERED.encode(late))
        prod.flush()
        # Only the garbage is about tracks.discovered (these sample tracks have no audio in the
        # store, so the features stage dead-letters them too, from tracks.registered).
        source = settings.topic("tracks.discovered")

        def garbage_letters(messages) -> list:
            decoded = [codec_for("DeadLetter").decode(m.value) for m in messages]
            return [d for d in decoded if d["source_topic"] == source]

        letters = consume(
            settings, settings.topic("deadletters"), until=lambda m: garbage_letters(m)
        )
        (letter,) = garbage_letters(letters)
        assert (
            letter["payload"] == b"\x00garbage\xff" and letter["error_kind"] == "SerializationError"
        )
        assert letter["source_offset"] >= 0
        wait_for(
            lambda: worker.get("/api/tracks/t-0099", status=404).get("track_id"), what="t-0099"
        )
        before["t-0099"] = worker.get("/api/tracks/t-0099")
    finally:
        worker.kill()

    # The local table store is gone too: the only way back is the changelog topic.
    shutil.rmtree(settings.home / "faust", ignore_errors=True)
    worker = WorkerProcess(settings, tmp_path).start()
    try:
        after = {
            tid: wait_for(
                lambda tid=tid: (
                    worker.get(f"/api/tracks/{tid}", status=404).get("track_id")
                    and worker.get(f"/api/tracks/{tid}")
                ),
                what=tid,
            )
            for tid in before
        }
        assert after == before
        # Nothing was forwarded twice despite the replayed duplicate and the restart.
        registered = consume(
            settings, settings.topic("tracks.registered"), until=lambda m: len(m) >= 7, timeout_s=5
        )
        keys = [m.key for m in registered]
        assert len(keys) == len(set(keys)) == 7
    finally:
        worker.stop()
    prod.close()
