"""End to end on the real stack: crawl -> features -> labels -> voice clip -> the paper's flow."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid

import numpy as np
import pytest
import soundfile as sf

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
from streams.events import clip_event
from streams.routing import partition_for_user
from streams.worker_process import WorkerProcess
from tests.crawler.test_crawl_integration import PROFILES
from tests.integration.interop_clients import java_client_command, librdkafka_partition
from tests.integration.kafka_helpers import consume, producer, wait_for
from tests.schemas.samples import SAMPLE_EVENTS

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CLIP_CODEC = codec_for("VoiceClipSubmitted")


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


@pytest.fixture(scope="module")
def labelled_worker(pipeline_settings, tmp_path_factory):
    """A worker whose catalog holds 20 crawled tracks, labelled by the promoted champion; the
    flow test and the interop tests below share it."""
    settings = pipeline_settings.replace(track_batch_size=4)  # the batched path, side by side
    tmp_path = tmp_path_factory.mktemp("pipeline")
    music = tmp_path / "site"
    write_synthetic_music(music, tracks_per_substyle=2, seconds=9.0, seed=31)
    for extra in sorted(music.glob("*.flac"))[20:]:
        extra.unlink()  # 20 tracks
    worker = WorkerProcess(settings, tmp_path).start()
    try:

        async def crawl() -> int:
            site = MusicSite(music)
            port = await site.start()
            try:
                profile = load_profile(PROFILES / "alpha.toml").on_host(f"127.0.0.1:{port}")
                return (await Crawler(profile, settings.crawl_target).run()).new
            finally:
                await site.stop()

        assert asyncio.run(crawl()) == 20

        def labelled() -> int:
            total = 0
            for emotion in ("sad", "happy", "angry", "calm"):
                themes = worker.get(f"/api/catalog/{emotion}")["themes"]
                total += sum(len(v) for v in themes.values())
            return total == 20

        wait_for(labelled, 240, "all 20 tracks labelled")
        yield settings, worker
    finally:
        worker.stop()


def test_crawled_tracks_are_labelled_and_clips_follow_the_paper_s_flow(
    labelled_worker, synthetic_speech_dir
) -> None:
    settings, worker = labelled_worker
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
    wait_for(lambda: worker.get("/api/users/ann/session")["voice_clips"] == 3, 30, "3 voice clips")

    # A duplicated event (same request id, sent twice to Kafka) gets one answer.
    with MoodstreamClient(settings) as client:
        client.submit_clip("bob", clip, request_id="dup-1")
        client.submit_clip("bob", clip, request_id="dup-1")
        assert client.wait_for_recommendation("dup-1")["request_id"] == "dup-1"
    answers = consume(
        settings, settings.topic("recommendations"), until=lambda m: False, timeout_s=4
    )
    assert (
        sum(codec_for("Recommendation").decode(m.value)["request_id"] == "dup-1" for m in answers)
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
    spec = SAMPLE_EVENTS["TrackFeaturesReady"]["feature_spec"]
    minio_client(settings.object_store).put_object(
        settings.bucket_features, f"{spec}/orphan.npy", io.BytesIO(buf.getvalue()), buf.tell()
    )
    orphan = {**SAMPLE_EVENTS["TrackFeaturesReady"], "track_id": "orphan",
              "features_key": f"{spec}/orphan.npy", "object_key": "tracks/nowhere/orphan.flac"}  # fmt: skip
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
    assert "tracks/nowhere/orphan.flac" in missing["message"] and missing["key"] == b"orphan"
    status, after = _post(worker, "/api/clips?user_id=cy", clip)
    assert status == 200 and after["step"] == "FIRST_OCCURRENCE"
    assert 'moodstream_dead_letters_total{kind="SerializationError"}' in _metrics(worker)


def _play(url: str) -> tuple[int, bytes, str]:
    """GET the first KiB of ``url`` with no credentials, as a player would."""
    request = urllib.request.Request(url, headers={"Range": "bytes=0-1023"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read(), response.headers.get("Content-Range", "")


def test_a_java_client_written_from_the_contract_is_answered_plays_and_picks(
    labelled_worker, synthetic_speech_dir, tmp_path
) -> None:
    """Issue 20: a Java producer and consumer (kafka-clients + Avro's single-object encoding,
    no moodstream code) against the exported contract."""
    settings, worker = labelled_worker
    contract = tmp_path / "contract"
    subprocess.run(
        [sys.executable, "-m", "streams.cli", "schemas", "export", str(contract)], check=True
    )
    command = java_client_command(settings.cache, tmp_path / "classes")
    clip = sorted(synthetic_speech_dir.glob("*-sad-*.wav"))[1]
    run = subprocess.run(
        [*command, settings.kafka_bootstrap, settings.topic_prefix, str(contract), "java-ann",
         str(clip)],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "COMPRESSION_TYPE": "lz4"},  # issue 27: any codec is read
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = {}
    for line in run.stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line.removeprefix("RESULT "))
            results[result["what"]] = result
    first, played, picked, after = (results[k] for k in ("first", "played", "picked", "after_pick"))
    assert first["step"] == "FIRST_OCCURRENCE" and first["track_ids"]
    # Played through the URL the answer carried: a partial answer to the Range request.
    assert played["track_id"] == first["track_ids"][0]
    assert played["status"] == 206 and played["bytes"] == 1024
    assert played["content_range"].startswith("bytes 0-1023/")
    assert int(played["content_range"].rsplit("/", 1)[1]) > 1024  # a part of the whole track
    assert 0 < played["url_valid_for_ms"] <= settings.audio_url_ttl_s * 1000
    # The pick shaped a later answer: the picked track's theme, and only it.
    assert after["step"] == "PREFERRED_THEME" and after["theme_id"] == picked["theme_id"]
    assert set(after["track_themes"]) == {picked["theme_id"]}
    assert worker.get("/api/users/java-ann/session")["voice_clips"] >= 2


def test_a_librdkafka_producer_and_kafka_python_feedback_share_one_session(
    labelled_worker, synthetic_speech_dir
) -> None:
    """Issue 20: clips through librdkafka's default partitioner (CRC32), feedback through
    kafka-python's (murmur2) and one clip on a partition named by hand, for one listener: one
    session, and the paper's steps in order."""
    from confluent_kafka import Consumer, Producer, TopicPartition

    settings, worker = labelled_worker
    n = settings.partitions
    # A listener the two partitioners place apart, so that the test means something.
    user = next(
        u for u in (f"rdk-{i}" for i in range(100))
        if librdkafka_partition(u.encode(), n) != partition_for_user(u, n)
    )  # fmt: skip
    clip = sorted(synthetic_speech_dir.glob("*-sad-*.wav"))[2].read_bytes()
    clips, answers_topic = settings.topic("voice.clips"), settings.topic("recommendations")
    rdk = Producer({"bootstrap.servers": settings.kafka_bootstrap, "message.max.bytes": 16 * 2**20})
    consumer = Consumer(
        {"bootstrap.servers": settings.kafka_bootstrap, "group.id": f"interop-{user}",
         "enable.auto.commit": False}
    )  # fmt: skip
    ends = [
        TopicPartition(answers_topic, p, consumer.get_watermark_offsets(TopicPartition(answers_topic, p))[1])
        for p in range(n)
    ]  # fmt: skip
    consumer.assign(ends)

    def ask(send) -> dict:
        request_id = f"rdk-{uuid.uuid4().hex}"
        send(CLIP_CODEC.encode(clip_event(user, audio=clip, request_id=request_id)))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is None or message.error():
                continue
            answer = codec_for("Recommendation").decode(message.value())
            if answer["request_id"] == request_id:
                return answer
        raise AssertionError(f"no answer to {request_id}")

    def by_librdkafka(value: bytes) -> None:
        rdk.produce(clips, key=user.encode(), value=value)
        rdk.flush(10)

    try:
        first = ask(by_librdkafka)
        assert first["step"] == "FIRST_OCCURRENCE" and first["playlist"]
        status, body, content_range = _play(first["playlist"][0]["audio_url"])
        assert status == 206 and len(body) == 1024 and content_range.startswith("bytes 0-1023/")
        # The pick goes through kafka-python (murmur2): another partition than the clips'.
        picked = first["playlist"][0]
        with MoodstreamClient(settings) as client:
            client.send_feedback(user, "PICK", [picked["track_id"]])
        wait_for(
            lambda: worker.get(f"/api/users/{user}/session", status=404)
            .get("emotions", {}).get(first["emotion"], {}).get("preferred_theme") is not None,
            30, "the pick in the listener's one session",
        )  # fmt: skip
        second = ask(by_librdkafka)
        assert second["step"] == "PREFERRED_THEME" and second["theme_id"] == picked["theme_id"]
        # A clip on a partition named by hand, neither partitioner's: the same session still.
        wrong = next(p for p in range(n) if p not in (librdkafka_partition(user.encode(), n), partition_for_user(user, n)))  # fmt: skip
        prod = producer(settings)

        def by_hand(value: bytes) -> None:
            prod.send(clips, key=user.encode(), value=value, partition=wrong).get(10)

        third = ask(by_hand)
        assert third["step"] == "PREFERRED_THEME" and third["theme_id"] == picked["theme_id"]
        session = worker.get(f"/api/users/{user}/session")
        assert session["voice_clips"] == 3  # one session saw all three clips
    finally:
        consumer.close()


def test_clips_in_batches_of_every_codec_are_answered(labelled_worker, synthetic_speech_dir):
    """Issue 27: a clip in a batch compressed with each codec Kafka defines (kafka-python), and
    one from librdkafka with snappy, franz-go's default, which once stopped every worker."""
    from confluent_kafka import Producer
    from kafka import KafkaProducer

    settings, worker = labelled_worker
    clip = sorted(synthetic_speech_dir.glob("*-happy-*.wav"))[0].read_bytes()
    topic = settings.topic("voice.clips")
    sent: dict[str, str] = {}
    with MoodstreamClient(settings) as client:
        for codec in ("gzip", "snappy", "lz4", "zstd"):
            user = f"codec-{codec}"
            event = clip_event(user, audio=clip)
            prod = KafkaProducer(
                bootstrap_servers=settings.kafka_bootstrap, compression_type=codec,
                max_request_size=16 * 2**20,
            )  # fmt: skip
            prod.send(topic, key=user.encode(), value=CLIP_CODEC.encode(event)).get(10)
            prod.close()
            sent[user] = event["request_id"]
        rdk = Producer(
            {"bootstrap.servers": settings.kafka_bootstrap, "compression.codec": "snappy",
             "message.max.bytes": 16 * 2**20}
        )  # fmt: skip
        event = clip_event("codec-librdkafka-snappy", audio=clip)
        rdk.produce(topic, key=b"codec-librdkafka-snappy", value=CLIP_CODEC.encode(event))
        assert rdk.flush(10) == 0
        sent["codec-librdkafka-snappy"] = event["request_id"]
        for user, request_id in sent.items():
            answer = client.wait_for_recommendation(request_id, timeout_s=60)
            assert answer["user_id"] == user
            assert answer["step"] == "FIRST_OCCURRENCE" and answer["playlist"]
    assert worker.get("/health")["ready"]


def test_a_batch_the_worker_cannot_read_is_dead_lettered_and_the_partition_goes_on(
    labelled_worker, synthetic_speech_dir
):
    """Issue 27: a zstd batch of a few KiB that decompresses to 80 MiB (a decompression bomb)
    on a listener's clip partition: dead-lettered with its offsets, counted, and the next clip
    on that partition is answered; a restart does not meet the batch again."""
    from kafka import KafkaProducer

    settings, worker = labelled_worker
    user = "bomb-neighbour"
    topic = settings.topic("voice.clips")
    partition = partition_for_user(user, settings.partitions)
    bomber = KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, compression_type="zstd",
        max_request_size=128 * 2**20,
    )  # fmt: skip
    bomb = bomber.send(topic, key=user.encode(), value=bytes(80 * 2**20), partition=partition)
    offset = bomb.get(30).offset
    bomber.close()
    clip = sorted(synthetic_speech_dir.glob("*-calm-*.wav"))[0].read_bytes()

    def letters_for_bomb() -> list[dict]:
        found = consume(
            settings, settings.topic("deadletters"), timeout_s=5,
            until=lambda ms: False,
        )  # fmt: skip
        letters = [codec_for("DeadLetter").decode(m.value) for m in found]
        return [
            letter for letter in letters
            if letter["source_topic"] == topic and letter["source_offset"] == offset
        ]  # fmt: skip

    with MoodstreamClient(settings) as client:
        answer = client.wait_for_recommendation(client.submit_clip(user, clip), timeout_s=60)
        assert answer["user_id"] == user and answer["playlist"]
    (letter,) = wait_for(letters_for_bomb, 30, "the bomb's dead letter")
    assert letter["source_partition"] == partition
    assert letter["source_last_offset"] == offset
    assert letter["error_kind"] == "BatchTooLargeError"
    assert "64 MiB" in letter["message"] and letter["payload"] is None
    assert 'moodstream_skipped_batches_total{kind="BatchTooLargeError"' in _metrics(worker)

    worker.stop()  # a restart on that partition: clean, and the batch is behind it
    worker.start()
    with MoodstreamClient(settings) as client:
        answer = client.wait_for_recommendation(client.submit_clip(user, clip), timeout_s=60)
        assert answer["user_id"] == user
    assert len(letters_for_bomb()) == 1

    # The project's own consumers of the recommendations topic, the HTTP reply waiter and the
    # client, meet a bomb there too: each skips it, says so, and still gets its answers.
    answers_topic = settings.topic("recommendations")
    with MoodstreamClient(settings) as client:
        assert _post(worker, f"/api/clips?user_id={user}", clip)[0] == 200  # the waiter is up
        bomber = KafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap, compression_type="gzip",
            max_request_size=128 * 2**20,
        )  # fmt: skip
        answers_bomb = bomber.send(answers_topic, key=user.encode(), value=bytes(80 * 2**20),
                                   partition=partition).get(30).offset  # fmt: skip
        bomber.close()
        status, body = _post(worker, f"/api/clips?user_id={user}", clip)
        assert status == 200 and body["user_id"] == user
        answer = client.wait_for_recommendation(client.submit_clip(user, clip), timeout_s=60)
        assert answer["user_id"] == user

    def readers_letters() -> set[str]:
        found = consume(
            settings, settings.topic("deadletters"), until=lambda ms: False, timeout_s=3
        )
        letters = [codec_for("DeadLetter").decode(m.value) for m in found]
        return {
            d["service"] for d in letters
            if d["source_topic"] == answers_topic and d["source_offset"] == answers_bomb
        }  # fmt: skip

    services = wait_for(
        lambda: (found := readers_letters()) >= {"http reply waiter", "moodstream client"} and found,
        30, "the readers' dead letters",
    )  # fmt: skip
    assert services == {"http reply waiter", "moodstream client"}


def test_a_listener_over_the_limit_gets_429_at_once_and_large_letters_keep_their_payload(
    labelled_worker, synthetic_speech_dir
):
    """Issue 27: over the listener limit an HTTP caller waited 20 s for a 504; a refused clip
    over 1 MB was cut, with ``payload_key`` null although the schema promises one."""
    settings, worker = labelled_worker
    user = "busy-over-http"
    clip = sorted(synthetic_speech_dir.glob("*-sad-*.wav"))[0].read_bytes()
    big = io.BytesIO()
    sf.write(big, np.zeros(16000 * 25, np.float32) + 0.01, 16000, format="WAV", subtype="FLOAT")
    big_clip = big.getvalue()  # 25 s, 1.6 MB: within every clip limit
    assert len(big_clip) > 1_000_000
    with MoodstreamClient(settings) as client:
        ids = [client.submit_clip(user, clip) for _ in range(settings.listener_clip_limit)]
        refused_id = client.submit_clip(user, big_clip)  # the 11th within 10 s
        client.wait_for_recommendation(ids[-1], timeout_s=60)
    started = time.monotonic()
    status, body = _post(worker, f"/api/clips?user_id={user}", clip)
    assert status == 429 and body["kind"] == "ListenerBusyError", body
    assert time.monotonic() - started < settings.web_reply_timeout_s / 2
    assert "send it again later" in body["error"]

    def letter():
        found = consume(
            settings, settings.topic("deadletters"), until=lambda ms: False, timeout_s=3
        )
        letters = [codec_for("DeadLetter").decode(m.value) for m in found]
        return next((d for d in letters if d["request_id"] == refused_id), None)

    refused = wait_for(letter, 30, "the large refused clip's dead letter")
    assert refused["payload"] is None and refused["payload_key"]
    bucket, key = refused["payload_key"].split("/", 1)
    stored = minio_client(settings.object_store).get_object(bucket, key)
    try:
        assert CLIP_CODEC.decode(stored.read())["audio"] == big_clip
    finally:
        stored.close()


def test_an_operator_removes_a_card_from_every_worker_s_catalog(labelled_worker) -> None:
    """Issue 27: a bad card could not be removed (a corrected event was ignored as a
    duplicate); ``moodstream catalog remove TRACK_ID`` takes it out."""
    settings, worker = labelled_worker
    emotion, themes = next(
        (e, t) for e in ("sad", "happy", "angry", "calm")
        if (t := worker.get(f"/api/catalog/{e}")["themes"])
    )  # fmt: skip
    track_id = next(iter(themes.values()))[0]["track_id"]
    run = subprocess.run(
        [sys.executable, "-m", "streams.cli", "catalog", "remove", track_id],
        capture_output=True, text=True, timeout=120, env={**os.environ, **settings.to_env()},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert f"removed {track_id}" in run.stdout

    def gone() -> bool:
        listed = worker.get(f"/api/catalog/{emotion}")["themes"]
        return all(track_id not in {t["track_id"] for t in ids} for ids in listed.values())

    wait_for(gone, 30, "the card gone from the worker's catalog")
    again = subprocess.run(
        [sys.executable, "-m", "streams.cli", "catalog", "remove", track_id],
        capture_output=True, text=True, timeout=120, env={**os.environ, **settings.to_env()},
    )  # fmt: skip
    assert again.returncode != 0 and "has no card for track" in again.stderr


def test_a_request_id_already_answered_is_refused_over_http_at_once(
    labelled_worker, synthetic_speech_dir
) -> None:
    """Issue 27: a repeated request id was dropped silently (the HTTP caller waited 20 s); the
    first answer stands, and a worker holding the session says so with 409."""
    settings, worker = labelled_worker
    clip = sorted(synthetic_speech_dir.glob("*-calm-*.wav"))[1].read_bytes()
    status, first = _post(worker, "/api/clips?user_id=repeat-ann&request_id=r-once", clip)
    assert status == 200 and first["request_id"] == "r-once"
    started = time.monotonic()
    status, again = _post(worker, "/api/clips?user_id=repeat-ann&request_id=r-once", clip)
    assert status == 409 and "answered already" in again["error"]
    assert time.monotonic() - started < settings.web_reply_timeout_s / 2
