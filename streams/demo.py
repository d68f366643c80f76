"""``moodstream demo``: the main job, start to finish, on the local stack.

1. A local music site serves real music: the orchestral tracks of Debian's
   ``wesnoth-1.16-music`` (installed when missing) and, when ``../shared/data/emopia`` exists,
   its clips as emotion playlists; otherwise synthetic labelled tracks.
2. Models are trained and promoted unless the champions trained on the same corpora are
   (streams.demo_models: every real corpus in ``MOODSTREAM_SHARED_DATA``, three RAVDESS actors
   held out of the voice model; synthetic sets only when no real corpus is there, said plainly);
   later runs reuse them.
3. A worker starts in the background, the crawler fetches the site into MinIO and Kafka, and
   every track streams to its emotion and theme.
4. Simulated listeners send voice clips through Kafka (the held-out actors' recorded speech, or
   espeak-ng without real corpora), pick tracks and abandon, and their recommendations are
   printed; then a summary with what each served model was trained on and its cross-corpus
   figures, and the URL of the web page (the worker and the site keep running until
   ``moodstream stack down``).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import click
import numpy as np
from tqdm import tqdm

from schemas.emotions import EMOTIONS
from streams.demo_models import DemoData, demo_data, describe_served, ensure_models
from streams.settings import Settings

__all__ = ["run_demo"]

SITE_PORT = 8701
_LISTENERS = (("ana", "sad"), ("ben", "happy"), ("cleo", "angry"))


def _site_folder(settings: Settings) -> tuple[Path, Path, str]:
    """The site's folder (symlinks), the music training folder, and what it holds."""
    from models.datasets.synthetic_music import write_synthetic_music
    from models.datasets.wesnoth import wesnoth_music

    folder = settings.home / "demo" / "site"
    folder.mkdir(parents=True, exist_ok=True)
    corpus = wesnoth_music()
    for track in sorted(corpus.glob("*.ogg")):
        link = folder / "wesnoth" / track.name
        link.parent.mkdir(exist_ok=True)
        if not link.exists():
            link.symlink_to(track)
    emopia = settings.shared_data / "emopia"
    if (emopia / "labels.csv").exists():
        training = emopia
        described = "Wesnoth's orchestral music + EMOPIA's piano clips as emotion playlists"
    else:
        training = settings.home / "demo" / "synthetic-music"
        if not (training / "labels.csv").exists():
            write_synthetic_music(training, tracks_per_substyle=8, seconds=24.0, seed=5)
        described = "Wesnoth's orchestral music + synthetic labelled tracks as emotion playlists"
    labelled = folder / "playlists"
    labelled.mkdir(exist_ok=True)
    lines = ["path,emotion"]
    import csv

    with open(training / "labels.csv", newline="") as f:
        for row in csv.DictReader(f):
            link = labelled / Path(row["path"]).name
            if not link.exists():
                link.symlink_to((training / row["path"]).resolve())
            lines.append(f"playlists/{link.name},{row['emotion']}")
    (folder / "labels.csv").write_text("\n".join(lines) + "\n")
    return folder, training, described


def _background(settings: Settings, name: str, args: list[str]) -> int:
    """Start a detached moodstream process that outlives the demo; ``stack down`` stops it."""
    from deploy.local.processes import start_detached

    return start_detached(
        settings.home, name, [sys.executable, "-m", "streams.cli", *args],
        env={**os.environ, **settings.to_env()}, cmdline_marker=f"streams.cli {args[0]}",
    )  # fmt: skip


def _get(settings: Settings, path: str, timeout: float = 5.0) -> dict:
    import json
    import urllib.request

    with urllib.request.urlopen(
        f"http://127.0.0.1:{settings.web_port}{path}", timeout=timeout
    ) as r:
        return json.loads(r.read())


def _wait_healthy(settings: Settings, timeout_s: float = 180.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            health = _get(settings, "/health")
            if health["ready"] and all(health["models"].values()):
                return health
        except OSError:
            pass
        time.sleep(1)
    raise click.ClickException(
        f"the worker did not become ready; see {settings.home / 'demo-worker' / 'demo-worker.log'}"
    )


def _catalog(settings: Settings) -> dict[str, dict[str, list]]:
    return {e: _get(settings, f"/api/catalog/{e}")["themes"] for e in EMOTIONS}


def _clip(emotion: str, voice: str, seed: int) -> bytes:
    import io

    import soundfile as sf

    from models.datasets.synthetic_speech import SENTENCES, speak

    y, sr = speak(
        SENTENCES[seed % len(SENTENCES)],
        voice=voice,
        emotion=emotion,
        rng=np.random.default_rng(seed),
    )
    buf = io.BytesIO()
    sf.write(buf, y, sr, format="WAV")
    return buf.getvalue()


def _show(user: str, answer: dict, ms: float) -> None:
    probs = answer.get("emotion_probabilities") or {}
    mood = (
        f"{answer['emotion']} ({100 * probs.get(answer['emotion'], 0):.0f} %)"
        if answer["emotion"]
        else "no speech"
    )
    click.echo(f"  {user:<5} {mood:<14} {answer['step']:<17} {ms:6.0f} ms  {answer['reason']}")
    for entry in answer["playlist"]:
        meta = entry["metadata"]
        click.echo(
            f"          theme {entry['theme_id']}: {meta['title'][:40]:<40} {meta['singer'][:18]}"
        )


def run_demo(settings: Settings) -> None:
    """Run the whole demo against the running local stack (see the module docstring)."""
    from crawler.crawl import Crawler
    from crawler.profile import load_profile
    from streams.topics import ensure_topics

    t0 = time.monotonic()
    ensure_topics(settings)
    click.echo("1/5 music for the local site ...")
    folder, training, described = _site_folder(settings)
    click.echo(f"    {described}")
    click.echo("2/5 models ...")
    data = demo_data(settings)
    ensure_models(settings, data)
    click.echo("3/5 worker and site in the background ...")
    _background(settings, "demo-site", ["site", "serve", str(folder), "--port", str(SITE_PORT)])
    _background(settings, "demo-worker", ["worker"])
    health = _wait_healthy(settings)
    click.echo(f"    worker ready with models {health['models']}")
    click.echo("4/5 crawl and label ...")
    root = Path(__file__).resolve().parents[1]
    profile = load_profile(root / "crawler" / "profiles" / "alpha.toml").on_host(
        f"127.0.0.1:{SITE_PORT}"
    )
    with tqdm(desc="crawl", unit="track") as bar:
        counters = asyncio.run(Crawler(profile, settings.crawl_target, progress=bar.update).run())
    click.echo(
        f"    crawl: {counters.new} new, {counters.duplicate} already known, {counters.failed} failed"
    )
    expected = counters.new + counters.duplicate
    with tqdm(total=expected, desc="labelled", unit="track") as bar:
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            done = sum(len(v) for themes in _catalog(settings).values() for v in themes.values())
            bar.update(max(0, min(done, expected) - bar.n))
            if done >= expected:
                break
            time.sleep(2)
    click.echo("5/5 listeners ...")
    latencies, steps = _play_listeners(settings, data)
    _print_summary(settings, data, latencies, steps, time.monotonic() - t0)


def _play_listeners(settings: Settings, data: DemoData) -> tuple[list[float], dict[str, int]]:
    """The simulated listeners: clips through Kafka, picks, an abandon; the answers' latencies
    (ms) and how many answers took each step of the paper's flow."""
    from streams.client import MoodstreamClient

    latencies = []
    steps: dict[str, int] = {}
    with MoodstreamClient(settings) as client:

        def ask(user: str, emotion: str, seed: int) -> dict:
            listener = [u for u, _ in _LISTENERS].index(user)
            audio = data.clip(listener, emotion, seed) or _clip(emotion, "en-us+f3", seed)
            started = time.perf_counter()
            answer = client.wait_for_recommendation(client.submit_clip(user, audio), timeout_s=60)
            ms = 1000 * (time.perf_counter() - started)
            latencies.append(ms)
            steps[answer["step"]] = steps.get(answer["step"], 0) + 1
            _show(user, answer, ms)
            return answer

        for i, (user, emotion) in enumerate(_LISTENERS):
            first = ask(user, emotion, i)
            if first["playlist"]:
                client.send_feedback(
                    user, "PICK", [first["playlist"][0]["track_id"]], request_id=first["request_id"]
                )
                time.sleep(1.0)
                ask(user, emotion, i)
        user, emotion = _LISTENERS[0]
        client.send_feedback(user, "ABANDON")
        click.echo(f"  {user} abandons: history cleared")
        time.sleep(1.0)
        ask(user, emotion, 7)
    return latencies, steps


def _print_summary(
    settings: Settings,
    data: DemoData,
    latencies: list[float],
    steps: dict[str, int],
    took_s: float,
) -> None:
    """What each served model heard and how it reads corpora it did not, the catalog by emotion
    and theme, the answers, and where the page is."""
    click.echo("\nsummary")
    voices = (
        "recorded speech of RAVDESS actors the voice model never heard"
        if data.real_voices
        else "espeak-ng"
    )
    click.echo(f"  listeners spoke with: {voices}")
    for line in describe_served(settings):
        click.echo(line)
    catalog = _catalog(settings)
    click.echo(f"  {'emotion':<8} {'tracks':>6}  tracks per theme")
    for emotion, themes in catalog.items():
        sizes = "  ".join(
            f"{t}:{len(v)}" for t, v in sorted(themes.items(), key=lambda kv: int(kv[0]))
        )
        click.echo(f"  {emotion:<8} {sum(len(v) for v in themes.values()):>6}  {sizes}")
    click.echo(f"  answers: {len(latencies)} ({', '.join(f'{k} {v}' for k, v in steps.items())})")
    click.echo(
        f"  clip -> recommendation latency: p50 {np.percentile(latencies, 50):.0f} ms, max {max(latencies):.0f} ms"
    )
    click.echo(f"  demo took {took_s:.0f} s")
    click.echo(
        f"\nweb page: http://127.0.0.1:{settings.web_port}/  (stays up until `moodstream stack down`)"
    )
