"""``moodstream crawl``, ``site serve`` and ``submit``: music in, voice clips in."""

from __future__ import annotations

import json
from pathlib import Path

import click

from streams.settings import Settings

__all__ = ["crawl", "site", "submit", "parse_interval"]


def parse_interval(text: str | None) -> float | None:
    """Seconds from ``30s``, ``10m``, ``1h`` or a plain number; ``None`` for no interval."""
    if not text:
        return None
    units = {"s": 1, "m": 60, "h": 3600}
    try:
        return float(text[:-1]) * units[text[-1]] if text[-1] in units else float(text)
    except (ValueError, KeyError):
        raise click.BadParameter(f"{text!r}: use e.g. 30s, 10m or 1h") from None


@click.command()
@click.option("--site", "site_file", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--every", default=None, help="Crawl again after this interval (30s, 10m, 1h).")
@click.option("--host", default=None, help="Serve the profile's site from this host:port instead.")
@click.pass_obj
def crawl(settings: Settings, site_file: str, every: str | None, host: str | None) -> None:
    """Fetch new music from one site into MinIO and Kafka (one pass, or every INTERVAL)."""
    import asyncio
    import time

    from tqdm import tqdm

    from crawler.crawl import Crawler
    from crawler.profile import ProfileError, load_profile
    from streams.record_batches import install_batch_guard
    from streams.topics import ensure_topics

    install_batch_guard()  # the crawler reads back its own topic when it repairs a crash

    try:
        profile = load_profile(site_file)
    except ProfileError as exc:
        raise click.ClickException(str(exc)) from exc
    if host:
        profile = profile.on_host(host)
    interval = parse_interval(every)
    ensure_topics(settings)
    while True:
        with tqdm(desc=f"crawl {profile.name}", unit="track") as bar:
            crawler = Crawler(profile, settings.crawl_target, progress=bar.update)
            counters = asyncio.run(crawler.run())
        click.echo(json.dumps({"site": profile.name, **counters.to_dict()}))
        if interval is None:
            return
        time.sleep(interval)


@click.command()
@click.argument("clip", type=click.Path(exists=True, dir_okay=False))
@click.option("--user", "user_id", required=True, help="The listener's id.")
@click.option("--timeout", type=float, default=30.0, show_default=True)
@click.pass_obj
def submit(settings: Settings, clip: str, user_id: str, timeout: float) -> None:
    """Send a voice clip to Kafka and print the recommendation that answers it."""
    from streams.client import MoodstreamClient, NoAnswerError

    with MoodstreamClient(settings) as client:
        request_id = client.submit_clip(user_id, Path(clip).read_bytes())
        try:
            answer = client.wait_for_recommendation(request_id, timeout_s=timeout)
        except NoAnswerError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(answer, indent=2, default=str))


@click.group()
def site() -> None:
    """The local music site (tests, benchmarks, demo)."""


@site.command("serve")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.option("--port", type=int, default=8701, show_default=True)
@click.option("--error-rate", type=float, default=0.0, help="Share of answers that are 500s.")
@click.option("--truncate-rate", type=float, default=0.0, help="Share of bodies cut short.")
def site_serve(folder: str, port: int, error_rate: float, truncate_rate: float) -> None:
    """Serve FOLDER's audio as the alpha and beta sites on 127.0.0.1:PORT."""
    import asyncio

    from crawler.testsite import Faults, MusicSite

    async def serve() -> None:
        music_site = MusicSite(
            Path(folder), faults=Faults(error_rate=error_rate, truncate_rate=truncate_rate)
        )
        await music_site.start(port)
        click.echo(f"serving {folder} on http://127.0.0.1:{port}/alpha/new and /beta/latest")
        await asyncio.Event().wait()

    asyncio.run(serve())
