"""``moodstream bench crawl``: tracks per second against the local site at several concurrencies.

Everything real: the local aiohttp site, MinIO (audio + crawl state) and Kafka (transactional
events). Each concurrency level crawls a fresh copy of the same synthetic tracks (new content,
so each run does the full work: fetch, decode check, store, emit) into a bucket of its own.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import soundfile as sf

__all__ = ["run_crawl_bench", "format_report"]

PROFILES = Path(__file__).resolve().parents[1] / "crawler" / "profiles"


def _tracks(folder: Path, n: int, seconds: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    t = np.arange(int(22050 * seconds)) / 22050
    for i in range(n):
        y = 0.3 * np.sin(2 * np.pi * rng.uniform(100, 800) * t) + 0.02 * rng.standard_normal(t.size)
        sf.write(
            folder / f"bench-{i:03d}.ogg",
            y.astype(np.float32),
            22050,
            format="OGG",
            subtype="VORBIS",
        )


async def _one(settings, concurrency: int, n: int, seconds: float, seed: int) -> dict:
    from crawler.crawl import Crawler
    from crawler.profile import load_profile
    from crawler.testsite import MusicSite
    from models.storage import minio_client

    tag = uuid.uuid4().hex[:8]
    run_settings = settings.replace(
        bucket_audio=f"bench-crawl-{tag}", topic_prefix=f"bench-{tag}", app_id=f"bench-{tag}"
    )
    client = minio_client(run_settings.object_store)
    client.make_bucket(run_settings.bucket_audio)
    with tempfile.TemporaryDirectory() as folder:
        _tracks(Path(folder), n, seconds, seed)
        site = MusicSite(Path(folder))
        port = await site.start()
        profile = load_profile(PROFILES / "alpha.toml").on_host(f"127.0.0.1:{port}")
        from dataclasses import replace

        profile = replace(profile, concurrency=concurrency)
        from streams.topics import ensure_topics

        await asyncio.to_thread(ensure_topics, run_settings)
        started = time.perf_counter()
        counters = await Crawler(profile, run_settings.crawl_target).run()
        elapsed = time.perf_counter() - started
        await site.stop()
    for obj in client.list_objects(run_settings.bucket_audio, recursive=True):
        client.remove_object(run_settings.bucket_audio, obj.object_name)
    client.remove_bucket(run_settings.bucket_audio)
    return {
        "tracks": counters.new,
        "seconds": round(elapsed, 2),
        "tracks_per_s": round(counters.new / elapsed, 1),
    }


def run_crawl_bench(
    settings, *, tracks: int = 40, seconds: float = 10.0, levels=(1, 4, 16)
) -> dict:
    """Crawl ``tracks`` fresh tracks of ``seconds`` each at every concurrency level."""
    results = {}
    for i, level in enumerate(levels):
        results[str(level)] = asyncio.run(_one(settings, level, tracks, seconds, seed=100 + i))
    return {"tracks": tracks, "track_seconds": seconds, "by_concurrency": results}


def format_report(report: dict) -> str:
    lines = [
        f"crawl of {report['tracks']} tracks of {report['track_seconds']:.0f} s (local site, MinIO, Kafka)"
    ]
    for level, r in report["by_concurrency"].items():
        lines.append(
            f"  concurrency {level:>2}: {r['tracks_per_s']:>6.1f} tracks/s  ({r['tracks']} in {r['seconds']} s)"
        )
    return "\n".join(lines)
