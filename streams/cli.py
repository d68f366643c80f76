"""``moodstream``: the one command behind every job.

Each sub-command builds :class:`~streams.settings.Settings` from the environment once and
hands it to a ``run``-style function of the package that does the work; this module only
parses arguments and prints. Heavy imports (TensorFlow, Faust) happen inside the commands
so that ``moodstream --help`` and ``moodstream stack status`` answer at once.
"""

from __future__ import annotations

import logging
import sys

import click

from streams.settings import Settings

__all__ = ["main", "cli"]


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    # Client libraries log every connection at INFO; their warnings are what an operator needs.
    for noisy in ("kafka", "aiokafka", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """moodstream: mood-aware music recommendation on Kafka, Faust and MinIO."""
    _configure_logging(verbose)
    ctx.obj = Settings.from_env()


# --------------------------------------------------------------------------- stack


@cli.group()
def stack() -> None:
    """Start, stop and inspect the local Kafka + MinIO stack (127.0.0.1)."""


def _print_status(rows) -> None:
    for row in rows:
        state = "healthy" if row.healthy else ("running, not answering" if row.pid else "stopped")
        rss = f"{row.rss_mb:.0f} MB" if row.rss_mb is not None else "-"
        pid = row.pid if row.pid is not None else "-"
        click.echo(
            f"{row.name:<6} {state:<22} {row.address:<16} pid {pid!s:<8} rss {rss:<8} {row.detail}"
        )


@stack.command("up")
@click.pass_obj
def stack_up_cmd(settings: Settings) -> None:
    """Build what is missing, start Kafka and MinIO, wait until both answer."""
    from deploy.exceptions import DeployError
    from deploy.local.stack import stack_up

    try:
        rows = stack_up(settings)
    except DeployError as exc:
        raise click.ClickException(str(exc)) from exc
    _print_status(rows)


@stack.command("down")
@click.pass_obj
def stack_down_cmd(settings: Settings) -> None:
    """Stop the servers; their data stays under MOODSTREAM_HOME."""
    from deploy.local.stack import stack_down

    stopped = stack_down(settings)
    click.echo(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


@stack.command("status")
@click.pass_obj
def stack_status_cmd(settings: Settings) -> None:
    """What runs where; exits 1 when a server is not healthy."""
    from deploy.local.stack import stack_status

    rows = stack_status(settings)
    _print_status(rows)
    if not all(row.healthy for row in rows):
        sys.exit(1)


# --------------------------------------------------------------------------- worker


@cli.command()
@click.option("--web-port", type=int, default=None, help="HTTP port (default MOODSTREAM_WEB_PORT).")
@click.option("--loglevel", default="info", show_default=True)
@click.pass_obj
def worker(settings: Settings, web_port: int | None, loglevel: str) -> None:
    """Run a Faust stream worker (agents, tables, HTTP API)."""
    from streams.app import run_worker

    if web_port is not None:
        settings = settings.replace(web_port=web_port)
    run_worker(settings, loglevel=loglevel)


@cli.group()
def bench() -> None:
    """Benchmarks: scripts that print speed and memory figures."""


@bench.command("features")
@click.argument("directory", required=False, type=click.Path(exists=True, file_okay=False))
@click.option("--limit", type=int, default=None, help="Only the first N files.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@click.option(
    "--only",
    multiple=True,
    type=click.Choice(["moodstream", "librosa_reference", "opensmile_egemaps"]),
    help="Run only these implementations (default: all three).",
)
def bench_features(
    directory: str | None, limit: int | None, as_json: bool, only: tuple[str, ...]
) -> None:
    """Real-time factor per core, peak memory and agreement of the music feature extractors."""
    import json
    from pathlib import Path

    from benchmarks.features import IMPLEMENTATIONS, format_report, run_features_bench

    log = (lambda msg: click.echo(msg, err=True)) if as_json else click.echo
    report = run_features_bench(
        Path(directory) if directory else None,
        limit=limit,
        implementations=only or IMPLEMENTATIONS,
        log=log,
    )
    click.echo(json.dumps(report) if as_json else format_report(report))


@cli.command()
@click.pass_obj
def demo(settings: Settings) -> None:
    """Run the main job on the local stack and print what happened."""
    from streams.demo import run_demo

    run_demo(settings)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="moodstream")


if __name__ == "__main__":
    main()
