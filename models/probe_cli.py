"""What the music probes' command lines share (``models.vgg_probe``, ``models.finetune_probe``):
their data and cache arguments, and accuracy per corpus."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from models.datasets.corpora import default_corpora

__all__ = ["probe_parser", "probe_data", "accuracy_by_corpus", "write_accuracy"]

#: ``../shared/data`` beside the checkout, where the real corpora are.
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def probe_parser(description: str) -> argparse.ArgumentParser:
    """A parser with ``--data DIR`` (repeatable) and ``--cache DIR``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", action="append", type=Path)
    parser.add_argument("--cache", type=Path, default=Path(".moodstream/cache"))
    return parser


def probe_data(args: argparse.Namespace) -> list[Path]:
    """The folders given with ``--data``, else every real music corpus in ``../shared/data``."""
    return args.data or default_corpora(SHARED_DATA, "music")


def accuracy_by_corpus(correct: np.ndarray, corpora: np.ndarray) -> dict[str, float]:
    """Accuracy over all clips (``pooled``), then over each corpus's clips."""
    return {
        "pooled": float(np.mean(correct)),
        **{str(c): float(np.mean(correct[corpora == c])) for c in np.unique(corpora)},
    }


def write_accuracy(label: str, accuracy: dict[str, float]) -> None:
    """One line on standard output: ``label: pooled 0.672 emopia 0.675 ...``."""
    figures = " ".join(f"{k} {v:.3f}" for k, v in accuracy.items())
    sys.stdout.write(f"{label}: {figures}\n")
