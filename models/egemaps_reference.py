"""eGeMAPS functionals from openSMILE, for the classical reference row of the voice evaluation.

openSMILE's native library and TensorFlow's corrupt each other's heap when loaded in one process
(``malloc(): invalid size``), so the extraction runs in a spawned child that never imports
TensorFlow. ``opensmile`` is an evaluation extra only (non-commercial licence).
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

__all__ = ["egemaps_available", "egemaps_functionals"]


def egemaps_available() -> bool:
    """Whether the ``opensmile`` package is installed."""
    import importlib.util

    return importlib.util.find_spec("opensmile") is not None


def _extract(paths: list[str]) -> np.ndarray:
    import opensmile

    smile = opensmile.Smile(
        feature_set=opensmile.FeatureSet.eGeMAPSv02,
        feature_level=opensmile.FeatureLevel.Functionals,
    )
    return np.stack([smile.process_file(p).to_numpy()[0] for p in paths]).astype(np.float32)


def egemaps_functionals(paths: list[Path]) -> np.ndarray:
    """``(n_clips, 88)`` eGeMAPS v02 functionals, computed in a spawned child process."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(_extract, [str(p) for p in paths]).result()
