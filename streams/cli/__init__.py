"""``moodstream``: the one command behind every job.

The root group knows each command group by the module that defines it and imports that module
only when the group is used or listed. Command modules import nothing heavy at module level:
TensorFlow, Faust and the Kafka clients are imported inside the commands, so ``moodstream
--help`` and ``moodstream stack status`` answer at once.

Every command builds :class:`~streams.settings.Settings` from the environment once (here, in the
root group) and hands what it needs to a ``run``-style function of the package that does the
work; command modules only parse arguments and print.
"""

from __future__ import annotations

import importlib
import logging

import click

from streams.settings import Settings

__all__ = ["cli", "main", "COMMANDS"]

#: Command name -> ``module:attribute`` of the click command or group.
#: ``bench`` lives beside the product, in ``benchmarks``; nothing in the product imports it.
COMMANDS: dict[str, str] = {
    "stack": "streams.cli.stack:stack",
    "worker": "streams.cli.worker:worker",
    "train": "streams.cli.model_jobs:train",
    "evaluate": "streams.cli.model_jobs:evaluate",
    "models": "streams.cli.model_jobs:models_group",
    "crawl": "streams.cli.ingest:crawl",
    "site": "streams.cli.ingest:site",
    "submit": "streams.cli.ingest:submit",
    "synth": "streams.cli.synth:synth",
    "schemas": "streams.cli.schemas:schemas_group",
    "catalog": "streams.cli.catalog:catalog_group",
    "demo": "streams.cli.demo:demo",
    "bench": "benchmarks.cli:bench",
}


class LazyGroup(click.Group):
    """A group whose sub-commands are imported when first needed (click's documented pattern)."""

    def __init__(self, *args, lazy_commands: dict[str, str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = lazy_commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands and cmd_name not in self.commands:
            module_name, attribute = self.lazy_commands[cmd_name].split(":")
            command = getattr(importlib.import_module(module_name), attribute)
            if not isinstance(command, click.Command):
                raise TypeError(f"{self.lazy_commands[cmd_name]} is not a click command")
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    # Client libraries log every connection at INFO; their warnings are what an operator needs.
    for noisy in ("kafka", "aiokafka", "urllib3", "gensim", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@click.group(cls=LazyGroup, lazy_commands=COMMANDS)
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """moodstream: mood-aware music recommendation on Kafka, Faust and MinIO."""
    _configure_logging(verbose)
    ctx.obj = Settings.from_env()


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="moodstream")
