"""``moodstream bench ...``: scripts that print speed and memory figures.

The root ``moodstream`` group loads this module by name (``streams.cli.COMMANDS``), so the
benchmarks sit beside the product and nothing in the product imports them.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

__all__ = ["bench"]

_json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object instead of a table."
)


def _log(as_json: bool):
    """Progress lines: to stderr when stdout carries the JSON."""
    return (lambda msg: click.echo(msg, err=True)) if as_json else click.echo


def _print(report: dict, format_report, as_json: bool) -> None:
    click.echo(json.dumps(report) if as_json else format_report(report))


@click.group()
def bench() -> None:
    """Benchmarks: scripts that print speed and memory figures."""


@bench.command("features")
@click.argument("directory", required=False, type=click.Path(exists=True, file_okay=False))
@click.option("--limit", type=int, default=None, help="Only the first N files.")
@_json_option
@click.option(
    "--only",
    multiple=True,
    type=click.Choice(["moodstream", "librosa_reference", "opensmile_egemaps"]),
    help="Run only these implementations (default: every one whose packages are installed).",
)
@click.option(
    "--rounds",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Runs of each implementation; each file counts with its cheapest run.",
)
def bench_features(
    directory: str | None, limit: int | None, as_json: bool, only: tuple[str, ...], rounds: int
) -> None:
    """Real-time factor per core, peak memory and agreement of the music feature extractors."""
    from benchmarks.features import MissingExtraError, format_report, run_features_bench
    from models.exceptions import DatasetError

    try:
        report = run_features_bench(
            Path(directory) if directory else None,
            limit=limit,
            implementations=only or None,
            rounds=rounds,
            log=_log(as_json),
        )
    except (MissingExtraError, DatasetError) as exc:
        raise click.ClickException(str(exc)) from exc
    _print(report, format_report, as_json)


@bench.command("formants")
@click.argument("directory", required=False, type=click.Path(exists=True, file_okay=False))
@click.option("--limit", type=int, default=8, show_default=True, help="Only the first N files.")
@_json_option
def bench_formants(directory: str | None, limit: int, as_json: bool) -> None:
    """Time, agreement and vowel error of the two LPC root finders for formants."""
    from benchmarks.formant_roots import format_report, run_formant_roots_bench
    from models.datasets.wesnoth import audio_files, wesnoth_music
    from models.exceptions import DatasetError

    try:
        files = audio_files(Path(directory) if directory else wesnoth_music(), limit=limit)
    except DatasetError as exc:
        raise click.ClickException(str(exc)) from exc
    _print(run_formant_roots_bench(files, log=_log(as_json)), format_report, as_json)


@bench.command("catalog")
@click.option(
    "--sizes",
    default="1000,10000,100000,1000000",
    show_default=True,
    help="Catalog sizes to measure at (comma-separated track counts).",
)
@_json_option
def bench_catalog(sizes: str, as_json: bool) -> None:
    """Bytes and time of one label's catalog write at each catalog size; worker memory."""
    from benchmarks.catalog import format_report, run_catalog_bench

    try:
        counts = tuple(int(n) for n in sizes.split(","))
    except ValueError:
        raise click.BadParameter(f"not a list of track counts: {sizes!r}") from None
    if not counts or min(counts) < 1_000:
        raise click.BadParameter("every size must be at least 1000 tracks (1000 writes are timed)")
    _print(run_catalog_bench(counts, log=_log(as_json)), format_report, as_json)


@bench.command("music")
@click.option(
    "--model",
    "model_path",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="A .keras file (default: a fresh network of the method's shape).",
)
@click.option("--repeats", type=int, default=200, show_default=True)
@click.option(
    "--ingest-profile",
    is_flag=True,
    help="Instead: where one 30 s track's labelling CPU goes (segment features, musicnn).",
)
@_json_option
def bench_music(model_path: str | None, repeats: int, ingest_profile: bool, as_json: bool) -> None:
    """Serving latency (4-minute track, one core) and batched throughput of the music model."""
    from benchmarks.music_model import (
        format_ingest_profile,
        format_report,
        run_ingest_profile,
        run_music_bench,
    )

    if ingest_profile:
        _print(run_ingest_profile(), format_ingest_profile, as_json)
        return
    report = run_music_bench(model_path=Path(model_path) if model_path else None, repeats=repeats)
    _print(report, format_report, as_json)


@bench.command("crawl")
@click.option("--tracks", type=int, default=40, show_default=True)
@click.option(
    "--seconds", type=float, default=10.0, show_default=True, help="Length of each track."
)
@_json_option
@click.pass_obj
def bench_crawl(settings, tracks: int, seconds: float, as_json: bool) -> None:
    """Crawler throughput (tracks/s) against the local site at concurrency 1, 4 and 16."""
    from benchmarks.crawl import format_report, run_crawl_bench

    _print(run_crawl_bench(settings, tracks=tracks, seconds=seconds), format_report, as_json)


@bench.command("pipeline")
@click.option("--tracks", type=int, default=60, show_default=True)
@click.option("--rate", type=float, default=10.0, show_default=True, help="Clips per second.")
@click.option("--seconds", type=float, default=20.0, show_default=True, help="Per clip rate.")
@click.option(
    "--sweep",
    is_flag=True,
    help="Raise the clip rate step by step until it no longer holds; print the capacity table.",
)
@click.option(
    "--rates",
    default=None,
    help="With --sweep: the rates to try, comma-separated (default 10,20,...,100).",
)
@click.option(
    "--burst",
    type=int,
    default=0,
    show_default=True,
    help="Also run --rate with one listener sending this many 29 s clips at once.",
)
@_json_option
@click.pass_obj
def bench_pipeline(
    settings, tracks: int, rate: float, seconds: float, sweep: bool, rates: str | None,
    burst: int, as_json: bool,
) -> None:  # fmt: skip
    """Ingest throughput and clip -> recommendation latency with one worker (after make demo)."""
    from benchmarks.pipeline import DEFAULT_SWEEP, format_report, run_pipeline_bench

    steps = None
    if sweep:
        steps = [float(r) for r in rates.split(",")] if rates else list(DEFAULT_SWEEP)
    report = run_pipeline_bench(
        settings, tracks=tracks, rate=rate, seconds=seconds, sweep=steps, burst=burst,
        log=_log(as_json),
    )  # fmt: skip
    _print(report, format_report, as_json)


@bench.command("voice")
@click.option(
    "--model",
    "model_path",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="A trained model.keras or head.npz (default: a fresh model of --kind).",
)
@click.option(
    "--kind", type=click.Choice(["champion", "network"]), default="champion", show_default=True
)
@click.option("--repeats", type=int, default=100, show_default=True)
@_json_option
def bench_voice(model_path: str | None, kind: str, repeats: int, as_json: bool) -> None:
    """Voice clip -> emotion latency on one core (5 s clip, decode and features included)."""
    from benchmarks.voice_model import format_report, run_voice_bench

    report = run_voice_bench(
        model_path=Path(model_path) if model_path else None, kind=kind, repeats=repeats
    )
    _print(report, format_report, as_json)
