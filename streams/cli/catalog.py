"""``moodstream catalog``: operator actions on the catalog (streams.catalog_admin)."""

from __future__ import annotations

import click

from streams.settings import Settings

__all__ = ["catalog_group"]


@click.group("catalog")
def catalog_group() -> None:
    """The labelled tracks that playlists draw from."""


@catalog_group.command("remove")
@click.argument("track_id")
@click.pass_obj
def remove(settings: Settings, track_id: str) -> None:
    """Take TRACK_ID's card out of every worker's catalog (a tombstone on the cards changelog)."""
    from streams.catalog_admin import CatalogAdminError, remove_card

    try:
        partitions = remove_card(settings, track_id)
    except CatalogAdminError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"removed {track_id} from the catalog (changelog partitions {partitions})")
