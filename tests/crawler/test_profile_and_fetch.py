"""Site profiles and the verified fetcher, against the local site (no Kafka or MinIO needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.crawl import parse_duration
from crawler.fetch import Fetcher, FetchError
from crawler.profile import ProfileError, load_profile
from crawler.testsite import Faults, MusicSite

PROFILES = Path(__file__).resolve().parents[2] / "crawler" / "profiles"


def test_a_profile_pointing_off_its_hosts_is_refused(tmp_path) -> None:
    text = (PROFILES / "alpha.toml").read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text(
        text.replace(
            '"http://127.0.0.1:8701/alpha/new"]',
            '"http://music.example.com/new"]',
        )
    )
    with pytest.raises(ProfileError, match="off the profile's hosts"):
        load_profile(bad)
    broken = tmp_path / "broken.toml"
    broken.write_text(text.replace("title = ", "titel = "))
    with pytest.raises(ProfileError, match="needs title"):
        load_profile(broken)


def test_durations_parse() -> None:
    assert parse_duration("3:07") == 187.0 and parse_duration("1:00:05") == 3605.0
    assert (
        parse_duration("12.5") == 12.5
        and parse_duration(None) == 0.0
        and parse_duration("n/a") == 0.0
    )


@pytest.mark.asyncio
async def test_fetcher_retries_faults_honours_robots_and_stays_on_its_hosts(tmp_path) -> None:
    (tmp_path / "a.wav").write_bytes(b"RIFF" + bytes(5000))
    site = MusicSite(tmp_path, faults=Faults(error_rate=0.4, truncate_rate=0.3, seed=3))
    port = await site.start()
    profile = load_profile(PROFILES / "alpha.toml").on_host(f"127.0.0.1:{port}")
    base = f"http://127.0.0.1:{port}"
    try:
        async with Fetcher(profile, backoff_base_s=0.01, seed=1) as fetcher:
            bodies = [await fetcher.get(f"{base}/media/a.wav") for _ in range(10)]
            assert all(len(b.body) == 5004 for b in bodies)  # never a truncated body
            assert fetcher.retries > 0  # the faults were met and retried
            with pytest.raises(FetchError, match="robots.txt"):
                await fetcher.get(f"{base}/private/track/secret")
            with pytest.raises(FetchError, match="leaves the profile's hosts"):
                await fetcher.get(f"{base}/alpha/away")
            with pytest.raises(FetchError, match="off the profile's hosts"):
                await fetcher.get("http://elsewhere.invalid/x")
    finally:
        await site.stop()
    assert not any(p.startswith("/private") for p in site.paths_requested)


@pytest.mark.asyncio
async def test_fetcher_gives_up_with_the_reason_after_its_budget(tmp_path) -> None:
    (tmp_path / "a.wav").write_bytes(b"x" * 100)
    site = MusicSite(tmp_path, faults=Faults(error_rate=1.0))
    port = await site.start()
    profile = load_profile(PROFILES / "alpha.toml").on_host(f"127.0.0.1:{port}")
    try:
        async with Fetcher(profile, backoff_base_s=0.01) as fetcher:
            with pytest.raises(FetchError, match=r"gave up after 4 attempts \(HTTP 500\)"):
                await fetcher.get(f"http://127.0.0.1:{port}/media/a.wav")
    finally:
        await site.stop()


@pytest.mark.parametrize(
    "url, suffix",
    [
        ("http://site/a/track.OGG", ".ogg"),
        ("http://site/a/track.mp3?token=1&x=../y", ".mp3"),
        ("http://site/a/track", ""),
        ("http://site/a.b/track", ""),
        ("http://site/a/track.o%2Fgg", ""),
    ],
)
def test_stored_audio_keeps_to_the_layout_the_worker_checks(url: str, suffix: str) -> None:
    """Issue 27: the worker refuses object keys outside tracks/<name>; the crawler's own keys
    must never be among them, whatever the site's URLs look like."""
    from crawler.crawl import audio_suffix
    from streams.events import TRACK_OBJECT_KEY

    assert audio_suffix(url) == suffix
    assert TRACK_OBJECT_KEY.fullmatch(f"tracks/{'a' * 64}{suffix}")
