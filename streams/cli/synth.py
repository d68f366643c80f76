"""``moodstream synth speech|music``: seeded synthetic labelled audio."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["synth"]


@click.group()
def synth() -> None:
    """Seeded synthetic labelled audio, for tests and demos when no real data is at hand."""


@synth.command("speech")
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option(
    "--per-voice", type=int, default=4, show_default=True, help="Clips per emotion and voice."
)
@click.option("--seed", type=int, default=0, show_default=True)
def synth_speech(out_dir: str, per_voice: int, seed: int) -> None:
    """Write espeak-ng emotional speech (4 emotions x 6 voices x N) and labels.csv into OUT_DIR."""
    from models.datasets.synthetic_speech import write_synthetic_speech

    labels = write_synthetic_speech(Path(out_dir), clips_per_voice=per_voice, seed=seed)
    click.echo(f"wrote {labels}")


@synth.command("music")
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--per-substyle", type=int, default=4, show_default=True)
@click.option("--seconds", type=float, default=20.0, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def synth_music(out_dir: str, per_substyle: int, seconds: float, seed: int) -> None:
    """Write 4 emotions x 3 sub-styles x N tracks and their labels.csv into OUT_DIR."""
    from models.datasets.synthetic_music import write_synthetic_music

    labels = write_synthetic_music(
        Path(out_dir), tracks_per_substyle=per_substyle, seconds=seconds, seed=seed
    )
    click.echo(f"wrote {labels}")
