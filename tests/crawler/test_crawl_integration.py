"""The crawler on the real Kafka and MinIO, against the fault-injecting local site."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from crawler.crawl import Crawler, track_id_for
from crawler.profile import load_profile
from crawler.state import CrawlState
from crawler.testsite import Faults, MusicSite
from models.audio import load_audio
from models.storage import minio_client
from schemas.codec import codec_for
from streams.topics import ensure_topics
from tests.integration.kafka_helpers import consume

pytestmark = pytest.mark.integration

PROFILES = Path(__file__).resolve().parents[2] / "crawler" / "profiles"


def _write_tracks(folder: Path, names: list[str], seed: int) -> dict[str, str]:
    """Short OGG tracks; returns name -> content sha256."""
    rng = np.random.default_rng(seed)
    out = {}
    for name in names:
        t = np.arange(22050 * 2) / 22050
        y = 0.3 * np.sin(2 * np.pi * rng.uniform(150, 600) * t) + 0.01 * rng.standard_normal(t.size)
        path = folder / f"{name}.ogg"
        sf.write(path, y.astype(np.float32), 22050, format="OGG", subtype="VORBIS")
        out[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@pytest.fixture()
def crawl_settings(isolated):
    """Settings with an audio bucket of the test's own (the crawl state lives there too)."""
    settings = isolated.replace(bucket_audio=f"audio-test-{uuid.uuid4().hex[:10]}")
    client = minio_client(settings.object_store)
    client.make_bucket(settings.bucket_audio)
    ensure_topics(settings)
    yield settings
    for obj in client.list_objects(settings.bucket_audio, recursive=True):
        client.remove_object(settings.bucket_audio, obj.object_name)
    client.remove_bucket(settings.bucket_audio)


def _events(settings, expected: int, *, settle_s: float = 0.0) -> list[dict]:
    """The discovered events so far: at least ``expected``, or (``settle_s``) all within that time."""
    codec = codec_for("TrackDiscovered")
    topic = settings.topic("tracks.discovered")
    if settle_s:
        messages = consume(
            settings, topic, until=lambda m: False, timeout_s=settle_s, read_committed=True
        )
    else:
        messages = consume(
            settings, topic, until=lambda m: len(m) >= expected, timeout_s=20, read_committed=True
        )
    return [codec.decode(m.value) for m in messages]


@pytest.mark.asyncio
async def test_faulty_site_yields_every_good_track_once_and_new_ones_later(
    crawl_settings, tmp_path
):
    music = tmp_path / "music"
    music.mkdir()
    hashes = _write_tracks(music, [f"song-{i:02d}" for i in range(8)], seed=1)
    (music / "broken-song.ogg").write_bytes(b"OggS" + os.urandom(3000))  # does not decode
    site = MusicSite(
        music, faults=Faults(error_rate=0.15, truncate_rate=0.1, slow_rate=0.1, slow_s=0.05, seed=7)
    )
    port = await site.start()
    profile = load_profile(PROFILES / "alpha.toml").on_host(f"127.0.0.1:{port}")
    try:
        first = await Crawler(profile, crawl_settings.crawl_target, backoff_base_s=0.01).run()
        assert first.new == 8 and first.failed == 1 and first.retries > 0, first
        events = _events(crawl_settings, 8)
        assert sorted(e["track_id"] for e in events) == sorted(
            track_id_for(h) for h in hashes.values()
        )
        client = minio_client(crawl_settings.object_store)
        catalogue = {t.title: t for t in site.tracks()}
        for event in events:
            response = client.get_object(crawl_settings.bucket_audio, event["object_key"])
            data = response.read()
            response.close()
            assert hashlib.sha256(data).hexdigest() == event["content_sha256"]
            assert load_audio(data, sr=8000).size > 0
            page = catalogue[event["metadata"]["title"]]
            assert (
                event["metadata"]["singer"] == page.singer
                and event["metadata"]["album"] == page.album
            )
            assert event["metadata"]["duration_s"] == pytest.approx(2.0, abs=0.05)
        failures = CrawlState(client, crawl_settings.bucket_audio, "alpha").failures()
        assert len(failures) == 1 and "does not decode" in failures[0]["reason"]

        new_hashes = _write_tracks(music, ["fresh-a", "fresh-b"], seed=2)
        second = await Crawler(profile, crawl_settings.crawl_target, backoff_base_s=0.01).run()
        assert second.new == 2 and second.duplicate == 8 and second.failed == 1, second
        events = _events(crawl_settings, 10, settle_s=3.0)
        everything = {track_id_for(h) for h in [*hashes.values(), *new_hashes.values()]}
        assert len(events) == 10 and {e["track_id"] for e in events} == everything

        beta = load_profile(PROFILES / "beta.toml").on_host(f"127.0.0.1:{port}")
        other_layout = await Crawler(beta, crawl_settings.crawl_target, backoff_base_s=0.01).run()
        # The same audio under the other site's metadata is recognised by its content hash.
        assert other_layout.new == 0 and other_layout.duplicate_content == 10, other_layout
    finally:
        await site.stop()


@pytest.mark.asyncio
async def test_playlists_carry_their_emotion(crawl_settings, tmp_path):
    music = tmp_path / "music"
    music.mkdir()
    _write_tracks(music, ["a", "b", "c"], seed=3)
    (music / "labels.csv").write_text("path,emotion\na.ogg,sad\nb.ogg,happy\n")
    site = MusicSite(music)
    port = await site.start()
    try:
        profile = load_profile(PROFILES / "alpha.toml").on_host(f"127.0.0.1:{port}")
        counters = await Crawler(profile, crawl_settings.crawl_target).run()
        assert counters.new == 3
    finally:
        await site.stop()
    events = {e["metadata"]["title"]: e["playlist_emotion"] for e in _events(crawl_settings, 3)}
    assert events == {"A": "sad", "B": "happy", "C": None}


@pytest.mark.asyncio
async def test_kill_9_mid_crawl_then_restart_loses_nothing_and_duplicates_nothing(
    crawl_settings, tmp_path
):
    music = tmp_path / "music"
    music.mkdir()
    hashes = _write_tracks(music, [f"track-{i:02d}" for i in range(12)], seed=4)
    site = MusicSite(music, faults=Faults(slow_rate=1.0, slow_s=0.15))
    port = await site.start()
    env = {**os.environ, **crawl_settings.to_env()}
    command = [
        sys.executable,
        "-m",
        "streams.cli",
        "crawl",
        "--site",
        str(PROFILES / "alpha.toml"),
        "--host",
        f"127.0.0.1:{port}",
    ]
    try:
        proc = await asyncio.create_subprocess_exec(
            *command, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
        )
        client = minio_client(crawl_settings.object_store)
        for _ in range(300):  # kill once some, not all, tracks are stored
            await asyncio.sleep(0.1)
            stored = list(client.list_objects(crawl_settings.bucket_audio, prefix="tracks/"))
            if len(stored) >= 3:
                break
        assert proc.returncode is None, "the crawl ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        partial = len(list(client.list_objects(crawl_settings.bucket_audio, prefix="tracks/")))
        assert 3 <= partial < 12
        proc = await asyncio.create_subprocess_exec(
            *command, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        _, err = await asyncio.wait_for(proc.communicate(), timeout=120)
        assert proc.returncode == 0, err.decode()[-2000:]
    finally:
        await site.stop()
    events = _events(crawl_settings, 12, settle_s=6.0)
    ids = [e["track_id"] for e in events]
    assert set(ids) == {track_id_for(h) for h in hashes.values()}  # nothing lost
    assert len(ids) == 12, f"duplicated events: {sorted(ids)}"  # nothing sent twice
    assert len(list(client.list_objects(crawl_settings.bucket_audio, prefix="tracks/"))) == 12
