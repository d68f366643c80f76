"""``moodstream worker``: one Faust stream worker."""

from __future__ import annotations

import click

from streams.settings import Settings

__all__ = ["worker"]


@click.command()
@click.option("--web-port", type=int, default=None, help="HTTP port (default MOODSTREAM_WEB_PORT).")
@click.option("--loglevel", default="info", show_default=True)
@click.pass_obj
def worker(settings: Settings, web_port: int | None, loglevel: str) -> None:
    """Run a Faust stream worker (agents, tables, HTTP API)."""
    from streams.app import run_worker

    if web_port is not None:
        settings = settings.replace(web_port=web_port)
    run_worker(settings, loglevel=loglevel)
