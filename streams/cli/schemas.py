"""``moodstream schemas``: the published Kafka contract (schemas.contract)."""

from __future__ import annotations

import click

__all__ = ["schemas_group"]


@click.group("schemas")
def schemas_group() -> None:
    """The Avro schemas and topics outside clients use."""


@schemas_group.command("export")
@click.argument("directory", type=click.Path(file_okay=False))
def export(directory: str) -> None:
    """Write every .avsc and index.json (schema, fingerprint, topic, key) into DIRECTORY."""
    from pathlib import Path

    from schemas.contract import INDEX_FILE, export_contract

    index = export_contract(Path(directory))
    click.echo(
        f"{len(index['schemas'])} schemas and {len(index['topics'])} topics: "
        f"{Path(directory) / INDEX_FILE}"
    )
