"""End to end on the real stack: crawl -> features -> labels -> voice clip -> the paper's flow."""

from __future__ import annotations

import io
import json
import urllib.request

import numpy as np
import pytest

from benchmarks.clip_load import run_clip_load
from crawler.crawl import Crawler
from crawler.profile import load_profile
from crawler.testsite import MusicSite
from models.datasets.synthetic_music import write_synthetic_music
from models.music_embedding import EMBEDDING_VERSION
from models.registry import ModelRegistry
from models.storage import minio_client
from schemas.codec import codec_for
from streams.client import MoodstreamClient
from streams.worker_process import WorkerProcess
from tests.crawler.test_crawl_integration import PROFILES
from tests.integration.kafka_helpers import consume, producer, wait_for
from tests.schemas.samples import SAMPLE_EVENTS

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _post(
    worker: WorkerProcess, path: str, body: bytes, content_type: str = "audio/wav"
) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{worker.settings.web_port}{path}", data=body, method="POST",
        headers={"Content-Type": content_type},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _metrics(worker: WorkerProcess) -> str:
    url = f"http://127.0.0.1:{worker.settings.web_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


def _metric(worker: WorkerProcess, name: str) -> float:
    """One sample of the worker's metrics (0 when it has none yet)."""
    for line in _metrics(worker).splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.mark.asyncio
async def test_crawled_tracks_are_labelled_and_clips_follow_the_paper_s_flow(
    pipeline_settings, synthetic_speech_dir, tmp_path
) -> None:
    settings = pipeline_settings.replace(track_batch_size=4)  # the batched path, side by side
    music = tmp_path / "site"
    write_synthetic_music(music, tracks_per_substyle=2, seconds=9.0, seed=31)
    for extra in sorted(music.glob("*.flac"))[20:]:
        extra.unlink()  # 20 tracks
    worker = WorkerProcess(settings, tmp_path).start()
    site = MusicSite(music)
    port = await site.start()
    try:
        profile = load_profile(PROFILES / "alpha.toml").on_host(f"127.0.0.1:{port}")
        counters = await Crawler(profile, settings.crawl_target).run()
        assert counters.new == 20

        def labelled() -> int:
            total = 0
            for emotion in ("sad", "happy", "angry", "calm"):
                themes = worker.get(f"/api/catalog/{emotion}")["themes"]
                total += sum(len(v) for v in themes.values())
            return total == 20

        wait_for(labelled, 240, "all 20 tracks labelled")
        # The champion labelled them: the promoted embedding model, calibrated probabilities,
        # each track's musicnn embedding stored beside its segment matrix.
        promoted = ModelRegistry(settings.object_store, settings.bucket_models).promoted_version(
            "music"
        )
        events = consume(
            settings, settings.topic("tracks.labelled"), until=lambda m: len(m) >= 20,
            timeout_s=30,
        )  # fmt: skip
        labels = [codec_for("TrackLabelled").decode(m.value) for m in events]
        assert {label["music_model_version"] for label in labels} == {promoted}
        assert all(abs(sum(x["emotion_probabilities"].values()) - 1) < 1e-4 for x in labels)
        stored = minio_client(settings.object_store).list_objects(
            settings.bucket_features, prefix=f"{EMBEDDING_VERSION}/"
        )
        assert {o.object_name.split("/")[-1] for o in stored} >= {
            f"{x['track_id']}.npy" for x in labels
        }
        # Tracks went through in batches (20 crawled at once: fewer batches than tracks), and
        # the busy counter the ingest bench reads has each stage's seconds.
        for stage in ("extract_features", "label_tracks"):
            batches = _metric(worker, f'moodstream_batch_events_count{{agent="{stage}"}}')
            tracks = _metric(worker, f'moodstream_batch_events_sum{{agent="{stage}"}}')
            assert 1 <= batches < tracks and tracks >= 20, (stage, batches, tracks)
            assert _metric(worker, f'moodstream_agent_busy_seconds_total{{agent="{stage}"}}') > 0
        clip = sorted(synthetic_speech_dir.glob("*-sad-*.wav"))[0].read_bytes()

        status, first = _post(worker, "/api/clips?user_id=ann", clip)
        assert status == 200, first
        emotion = first["emotion"]
        catalog = worker.get(f"/api/catalog/{emotion}")["themes"]
        assert first["step"] == "FIRST_OCCURRENCE"
        confidence = max(first["emotion_probabilities"].values())
        assert first["emotion_probabilities"][emotion] == confidence
        assert first["emotion_uncertain"] == (confidence < settings.min_voice_confidence)
        assert first["reason"].startswith("your mood is uncertain") == first["emotion_uncertain"]
        assert sorted(p["theme_id"] for p in first["playlist"]) == sorted(
            int(t) for t, v in catalog.items() if v
        )
        assert all(p["audio_url"].startswith("http://127.0.0.1") for p in first["playlist"])

        picked = first["playlist"][0]
        status, _ = _post(worker, "/api/feedback", json.dumps(
            {"user_id": "ann", "action": "PICK", "track_ids": [picked["track_id"]]}).encode(), "application/json")  # fmt: skip
        assert status == 202
        wait_for(lambda: worker.get("/api/users/ann/session", status=404).get("emotions", {}).get(emotion, {}).get("preferred_theme") is not None, 30, "the pick")  # fmt: skip
        status, second = _post(worker, "/api/clips?user_id=ann", clip)
        assert second["step"] == "PREFERRED_THEME" and second["theme_id"] == picked["theme_id"]
        assert second["playlist"] and all(
            p["theme_id"] == picked["theme_id"] for p in second["playlist"]
        )

        _post(
            worker,
            "/api/feedback",
            json.dumps({"user_id": "ann", "action": "ABANDON"}).encode(),
            "application/json",
        )
        wait_for(
            lambda: worker.get("/api/users/ann/session", status=404).get("emotions") == {},
            30,
            "the abandon",
        )
        status, third = _post(worker, "/api/clips?user_id=ann", clip)
        assert third["step"] == "FIRST_OCCURRENCE"
        # ABANDON cleared the moods, not the voice history the listener-normalised model reads.
        wait_for(
            lambda: worker.get("/api/users/ann/session")["voice_clips"] == 3, 30, "3 voice clips"
        )

        # A duplicated event (same request id, sent twice to Kafka) gets one answer.
        with MoodstreamClient(settings) as client:
            client.submit_clip("bob", clip, request_id="dup-1")
            client.submit_clip("bob", clip, request_id="dup-1")
            assert client.wait_for_recommendation("dup-1")["request_id"] == "dup-1"
        answers = consume(
            settings, settings.topic("recommendations"), until=lambda m: False, timeout_s=4
        )
        assert (
            sum(
                codec_for("Recommendation").decode(m.value)["request_id"] == "dup-1"
                for m in answers
            )
            == 1
        )

        # 32 clips of four listeners, interleaved, sent within 0.2 s: read in batches, answered
        # once each, each listener's answers in the order of its clips (one partition).
        before = _metric(worker, 'moodstream_batch_events_count{agent="recommend"}')
        load = run_clip_load(settings, clip, rate=160, seconds=0.2, listeners=4, drain_s=30)
        assert load.answered == load.sent == 32
        answers = consume(
            settings, settings.topic("recommendations"), until=lambda m: False, timeout_s=4
        )
        by_listener: dict[str, list[str]] = {}
        for message in answers:
            answer = codec_for("Recommendation").decode(message.value)
            if answer["user_id"].startswith("listener-"):
                by_listener.setdefault(answer["user_id"], []).append(answer["request_id"])
        assert by_listener == {
            user: [r for u, r in load.requests if u == user] for user, _ in load.requests
        }
        batches = _metric(worker, 'moodstream_batch_events_count{agent="recommend"}') - before
        assert batches < 32, "the clips were read one at a time"

        # Bad input over HTTP: clear 4xx answers, nothing sent.
        assert _post(worker, "/api/clips?user_id=ann", b"not audio")[0] == 400
        assert _post(worker, "/api/clips", clip)[0] == 400

        # Garbage on every input topic: dead letters, and the worker carries on.
        prod = producer(settings)
        inputs = (
            "tracks.discovered",
            "tracks.registered",
            "tracks.features",
            "voice.clips",
            "feedback",
        )
        for short in inputs:
            prod.send(settings.topic(short), key=b"junk", value=b"\x00garbage")
        # A well-formed features event whose audio was never stored: the champion reads audio.
        buf = io.BytesIO()
        np.save(buf, np.zeros((4, 62), np.float32))
        minio_client(settings.object_store).put_object(
            settings.bucket_features, "orphan.npy", io.BytesIO(buf.getvalue()), buf.tell()
        )
        orphan = {**SAMPLE_EVENTS["TrackFeaturesReady"], "track_id": "orphan",
                  "features_key": "orphan.npy", "object_key": "nowhere/orphan.flac"}  # fmt: skip
        prod.send(
            settings.topic("tracks.features"), key=b"orphan",
            value=codec_for("TrackFeaturesReady").encode(orphan),
        )  # fmt: skip
        prod.flush()
        letters = consume(
            settings,
            settings.topic("deadletters"),
            until=lambda m: len(m) >= len(inputs) + 1,
            timeout_s=60,
        )
        decoded = [codec_for("DeadLetter").decode(m.value) for m in letters]
        assert {d["source_topic"] for d in decoded} >= {settings.topic(s) for s in inputs}
        (missing,) = [d for d in decoded if d["error_kind"] == "TrackAudioMissingError"]
        assert "nowhere/orphan.flac" in missing["message"] and missing["key"] == b"orphan"
        status, after = _post(worker, "/api/clips?user_id=cy", clip)
        assert status == 200 and after["step"] == "FIRST_OCCURRENCE"
        assert 'moodstream_dead_letters_total{kind="SerializationError"}' in _metrics(worker)
    finally:
        await site.stop()
        worker.stop()
