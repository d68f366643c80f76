"""``moodstream demo``: the main job on the local stack."""

from __future__ import annotations

import click

from streams.settings import Settings

__all__ = ["demo"]


@click.command()
@click.pass_obj
def demo(settings: Settings) -> None:
    """Run the main job on the local stack and print what happened."""
    from models.exceptions import DatasetError
    from streams.demo import run_demo

    try:
        run_demo(settings)
    except DatasetError as exc:
        raise click.ClickException(str(exc)) from exc
