"""The models the demo serves, and the voices its listeners speak with.

A listener gets the served model, on music and voices it never trained on, so the demo trains
on every real corpus in ``MOODSTREAM_SHARED_DATA`` (music: EMOPIA and the commercial-music set;
voice: RAVDESS song and speech, EmoDB) and holds three RAVDESS actors out of the voice model's
training: its simulated listeners speak with those actors' real recorded speech. Only when no
real corpus is there does it fall back to the synthetic generators, and then every summary says
plainly that the served model has never heard real audio (as ``/health`` and the page do).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import click

from models.datasets.corpora import LabelledClip, default_corpora, hold_out_groups
from streams.settings import Settings

__all__ = [
    "HELD_OUT_ACTORS",
    "DemoData",
    "demo_data",
    "reusable",
    "ensure_models",
    "describe_served",
]

#: RAVDESS actors (song and speech) the demo's voice model never hears: its listeners.
HELD_OUT_ACTORS = ("ravdess:actor10", "ravdess:actor11", "ravdess:actor12")


@dataclass
class DemoData:
    """What the demo trains on, and its listeners' clips."""

    music: list[Path]
    """Music and theme training corpora (real, or one synthetic folder)."""
    voice: list[Path]
    """Voice training corpora (real without the held-out actors, or one synthetic folder)."""
    listeners: dict[int, list[LabelledClip]] = field(default_factory=dict)
    """Listener number -> that held-out actor's real speech clips (empty: synthetic voices)."""

    @property
    def real_voices(self) -> bool:
        return bool(self.listeners)

    def clip(self, listener: int, emotion: str, k: int) -> bytes | None:
        """The ``k``-th recorded clip of ``emotion`` by the listener's actor, or None (no real
        voices: the demo synthesises one)."""
        clips = [c for c in self.listeners.get(listener, []) if c.emotion == emotion]
        return clips[k % len(clips)].path.read_bytes() if clips else None


def demo_data(settings: Settings) -> DemoData:
    """The demo's training corpora and listener voices (module docstring)."""
    from models.datasets.synthetic_music import write_synthetic_music
    from models.datasets.synthetic_speech import write_synthetic_speech

    music = default_corpora(settings.shared_data, "music")
    if not music:
        synthetic = settings.home / "demo" / "synthetic-music"
        if not (synthetic / "labels.csv").exists():
            write_synthetic_music(synthetic, tracks_per_substyle=8, seconds=24.0, seed=5)
        music = [synthetic]
    voice = default_corpora(settings.shared_data, "voice")
    if not voice:
        synthetic = settings.home / "demo" / "speech"
        if not (synthetic / "labels.csv").exists():
            write_synthetic_speech(synthetic, clips_per_voice=6, seed=3)
        return DemoData(music, [synthetic])
    training, held = hold_out_groups(
        voice, set(HELD_OUT_ACTORS), settings.home / "demo" / "voice-train"
    )
    speech = [c for c in held if c.corpus.startswith("ravdess_speech")] or held
    listeners = {
        i: sorted((c for c in speech if c.group == actor), key=lambda c: c.path.name)
        for i, actor in enumerate(HELD_OUT_ACTORS)
    }
    return DemoData(music, training, {i: c for i, c in listeners.items() if c})


def _served_corpora(registry, kind: str) -> list[str] | None:
    version = registry.promoted_version(kind)
    return registry.show(kind, version).metrics.get("corpora") if version else None


def reusable(record, kind: str, folders: list[Path] | None) -> bool:
    """Whether the promoted ``record`` of ``kind`` can serve the demo as it is: it computes the
    features this code computes and, for music and voice, it is the champion trained on exactly
    ``folders``' corpora."""
    from models.features.music import DEFAULT_SPEC
    from models.features.voice import DEFAULT_VOICE_SPEC
    from streams.cli.model_jobs import DEFAULT_MUSIC_MODEL_KEY, DEFAULT_VOICE_MODEL_KEY

    feature_specs = {"music": DEFAULT_SPEC.version, "themes": DEFAULT_SPEC.version, "voice": DEFAULT_VOICE_SPEC.version}  # fmt: skip
    champions = {"music": DEFAULT_MUSIC_MODEL_KEY, "voice": DEFAULT_VOICE_MODEL_KEY}
    if record is None or record.feature_spec != feature_specs[kind]:
        return False
    if kind not in champions:
        return True
    wanted = sorted(f.name for f in folders) if folders else None
    return (
        record.hyperparameters.get("model") == champions[kind]
        and record.metrics.get("corpora") == wanted
    )


def ensure_models(settings: Settings, data: DemoData) -> None:
    """Train and promote each model the demo serves unless the promoted one is
    :func:`reusable`."""
    from models.registry import ModelRegistry

    registry = ModelRegistry(settings.object_store, settings.bucket_models)

    def data_args(folders: list[Path]) -> list[str]:
        return [arg for folder in folders for arg in ("--data", str(folder))]

    jobs = {
        "music": (["train", "music", *data_args(data.music), "--cv-folds", "5", "--promote"], data.music),
        "themes": (["train", "themes", *data_args(data.music), "--promote"], None),
        "voice": (["train", "voice", *data_args(data.voice), "--cv-folds", "5", "--promote"], data.voice),
    }  # fmt: skip
    for kind, (args, folders) in jobs.items():
        version = registry.promoted_version(kind)
        if reusable(registry.show(kind, version) if version else None, kind, folders):
            click.echo(f"  {kind:<7} reusing promoted {version}")
            continue
        click.echo(f"  {kind:<7} training (moodstream {' '.join(args)}) ...")
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "streams.cli", *args], check=True, env={**os.environ, **settings.to_env()}, stdout=subprocess.DEVNULL)  # fmt: skip
        click.echo(
            f"          promoted {registry.promoted_version(kind)} in {time.monotonic() - started:.0f} s"
        )


def describe_served(settings: Settings) -> list[str]:
    """Summary lines: per served model, its training corpora, grouped-CV accuracy, and
    accuracy on each corpus when trained without it; or that it never heard real audio."""
    from models.registry import ModelRegistry

    registry = ModelRegistry(settings.object_store, settings.bucket_models)
    lines = []
    for kind in ("music", "voice"):
        version = registry.promoted_version(kind)
        if version is None:
            continue
        metrics = registry.show(kind, version).metrics
        corpora = ", ".join(metrics.get("corpora") or ["?"])
        lines.append(f"  {kind} {version}: trained on {corpora}")
        if metrics.get("synthetic_only"):
            lines.append("    has never heard real audio: trained on synthetic clips only")
        if "cv_accuracy" in metrics:
            lines.append(
                f"    grouped {metrics.get('cv_folds')}-fold CV: {100 * metrics['cv_accuracy']:.1f} %"
            )
        for corpus, accuracy in (metrics.get("cross_corpus_accuracy") or {}).items():
            inside = (metrics.get("cv_per_corpus") or {}).get(corpus)
            lines.append(
                f"    {corpus}: {100 * accuracy:.1f} % trained without it"
                + (f" ({100 * inside:.1f} % in pooled CV)" if inside is not None else "")
            )
    return lines
