"""``moodstream stack up|down|status``: the local Kafka + MinIO stack."""

from __future__ import annotations

import sys

import click

from streams.settings import Settings

__all__ = ["stack"]


@click.group()
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
        rows = stack_up(settings.stack)
    except DeployError as exc:
        raise click.ClickException(str(exc)) from exc
    _print_status(rows)


@stack.command("down")
@click.pass_obj
def stack_down_cmd(settings: Settings) -> None:
    """Stop the servers (and the demo's worker and site); their data stays under MOODSTREAM_HOME."""
    from deploy.local.stack import stack_down

    stopped = stack_down(settings.stack)
    click.echo(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


@stack.command("status")
@click.pass_obj
def stack_status_cmd(settings: Settings) -> None:
    """What runs where; exits 1 when a server is not healthy."""
    from deploy.local.stack import stack_status

    rows = stack_status(settings.stack)
    _print_status(rows)
    if not all(row.healthy for row in rows):
        sys.exit(1)
