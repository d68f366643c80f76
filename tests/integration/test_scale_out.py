"""Two workers share the partitions; one is killed (SIGKILL) mid-stream; nothing is lost.

Every request is answered; where the killed worker had answered but not yet recorded the
request, the survivor answers it again with the identical (deterministic) recommendation, so a
consumer that keeps one answer per request id (``streams.client``) sees each exactly once.
"""

from __future__ import annotations

import time

import pytest

from crawler.crawl import Crawler
from crawler.profile import load_profile
from crawler.testsite import MusicSite
from models.datasets.synthetic_music import write_synthetic_music
from schemas.codec import codec_for
from streams.client import MoodstreamClient
from streams.worker_process import WorkerProcess
from tests.crawler.test_crawl_integration import PROFILES
from tests.integration.kafka_helpers import consume

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _canonical(answer: dict) -> tuple:
    return (
        answer["request_id"],
        answer["step"],
        answer["emotion"],
        tuple(p["track_id"] for p in answer["playlist"]),
    )


@pytest.mark.asyncio
async def test_killing_one_of_two_workers_loses_no_request(
    pipeline_settings, synthetic_speech_dir, tmp_path
):
    settings = pipeline_settings.replace(
        topic_prefix=pipeline_settings.topic_prefix + "-so", app_id=pipeline_settings.app_id + "-so"
    )
    from streams.topics import ensure_topics

    ensure_topics(settings)
    first = WorkerProcess(settings, tmp_path).start()
    music = tmp_path / "site"
    write_synthetic_music(music, tracks_per_substyle=1, seconds=9.0, seed=51)
    site = MusicSite(music)
    port = await site.start()
    second = None
    try:
        await Crawler(
            load_profile(PROFILES / "alpha.toml").on_host(f"127.0.0.1:{port}"), settings
        ).run()
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            total = sum(
                len(v)
                for e in ("sad", "happy", "angry", "calm")
                for v in first.get(f"/api/catalog/{e}")["themes"].values()
            )
            if total >= 12:
                break
            time.sleep(0.5)
        second = WorkerProcess(settings, tmp_path).start()
        clip = sorted(synthetic_speech_dir.glob("*-angry-*.wav"))[0].read_bytes()
        sent = []
        with MoodstreamClient(settings) as client:
            for i in range(40):
                sent.append(client.submit_clip(f"listener-{i % 16}", clip))
                if i == 15:
                    second.kill()  # mid-stream: its partitions move to the first worker
                time.sleep(0.1)
            answered = {}
            deadline = time.monotonic() + 120
            while len(answered) < len(sent) and time.monotonic() < deadline:
                for answer in client.recommendations(timeout_s=1.0):
                    answered[answer["request_id"]] = answer
        assert set(answered) == set(sent), f"{len(set(sent) - set(answered))} requests lost"
        raw = consume(
            settings, settings.topic("recommendations"), until=lambda m: False, timeout_s=4
        )
        by_request: dict[str, set] = {}
        for message in raw:
            answer = codec_for("Recommendation").decode(message.value)
            by_request.setdefault(answer["request_id"], set()).add(_canonical(answer))
        # A repeated answer, if any, is the same answer: consumers keep one per request id.
        assert all(len(variants) == 1 for variants in by_request.values())
    finally:
        await site.stop()
        if second is not None:
            second.stop()
        first.stop()
