"""A real Faust worker against the real broker: the thin ingest path, crash recovery, dead letters."""

from __future__ import annotations

import json
import shutil

import pytest

from schemas.codec import codec_for
from streams.client import MoodstreamClient
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

    worker = WorkerProcess(settings, tmp_path).start(ready="tables_ready")
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
    worker = WorkerProcess(settings, tmp_path).start(ready="tables_ready")
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


def test_a_worker_restarted_on_an_oversize_stored_session_repairs_it(worker_settings, tmp_path):
    """Issue 15, item 1: a session grown past the broker's message limit stayed in the local
    RocksDB store (its changelog write had failed), and one normal event from that listener
    after a restart made the worker write it again, and crash again."""
    from rocksdict import Options, Rdict

    STORED_KEY = b'"mallory"'  # noqa: N806  (Faust stores and logs table keys as JSON)
    settings = worker_settings
    worker = WorkerProcess(settings, tmp_path).start(ready="tables_ready")
    with MoodstreamClient(settings) as client:
        client.send_feedback("mallory", "ABANDON")
        wait_for(
            lambda: worker.get("/api/users/mallory/session", status=404).get("user_id"),
            what="mallory's session",
        )
        # A clean stop: the restarted worker is then assigned every partition at once (after a
        # kill it may first get some of them, and Faust drops the local stores of the others).
        worker.stop()
        grown = {
            "emotions": {
                "sad": {
                    "preferred_theme": 1,
                    "offered": ["t-1"],
                    "recommended": ["t-1"] * 3_000_000,
                }
            },
            "handled": [],
            "last": None,
        }
        value = json.dumps(grown, separators=(",", ":")).encode()
        assert len(value) > 16 * 2**20  # over what the broker takes, even as compact JSON
        tables = (
            settings.home
            / "faust"
            / f"{settings.app_id}-{worker.settings.web_port}"
            / "v1"
            / "tables"
        )
        planted = 0
        for path in sorted(tables.glob("sessions-*.db")):
            db = Rdict(str(path), options=Options(raw_mode=True))
            try:
                if db.get(STORED_KEY) is not None:
                    db[STORED_KEY] = value
                    planted += 1
            finally:
                db.close()
        assert planted == 1
        worker.start(ready="tables_ready")  # same port, same local store
        served = worker.get("/api/users/mallory/session")
        assert served["emotions"]["sad"]["preferred_theme"] == 1  # the planted value is live
        client.send_feedback("mallory", "PICK", ["t-1"])
        # What reaches the changelog is the repaired session, small.
        changelog = consume(
            settings, f"{settings.app_id}-sessions-changelog",
            until=lambda m: any(x.key == STORED_KEY and b"t-1" in x.value for x in m),
            timeout_s=60,
        )  # fmt: skip
    written = [m for m in changelog if m.key == STORED_KEY and b"t-1" in m.value]
    assert written, worker.log_tail()
    assert len(written[-1].value) < 10_000
    assert worker.proc.poll() is None, worker.log_tail()
    assert worker.get("/health")["tables_ready"]
    session = worker.get("/api/users/mallory/session")
    assert session["emotions"]["sad"]["recommended"] == ["t-1"]
    worker.stop()
