"""Speed-perturbed copies of training clips for the voice candidates, their functionals cached.

A clip played ``factor`` times faster (resampled, so pitch, formants and tempo all move by the
same factor, as in Kaldi's speed perturbation) sounds like another speaker saying the same thing
with the same feeling. The candidates that ask for it (:attr:`VoiceCandidate.augment`) train on
each training clip and its copies at the factors given; each copy is a listener of its own for
listener normalisation (its voice differs), but is kept in its source speaker's inner
cross-validation fold, so no speaker leaks between the folds that choose the penalty.
Only training sides see copies: test clips are always the recordings as they are.

Functionals of the copies are cached under ``<cache>/voice-augmented/<voice spec>/<sha>-<factor>.npy``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from fractions import Fraction
from pathlib import Path

import numpy as np

from models.audio import load_audio
from models.exceptions import AudioDecodeError, DatasetError
from models.features.voice import DEFAULT_VOICE_SPEC, voice_inputs

__all__ = ["speed_perturbed", "augmentation_name", "AugmentedFunctionalsCache"]


def speed_perturbed(y: np.ndarray, factor: float) -> np.ndarray:
    """``y`` played ``factor`` times faster at the same sampling rate (``factor`` > 1: shorter
    and higher), by polyphase resampling with the ratio as a small fraction."""
    if factor <= 0:
        raise ValueError(f"a speed factor must be positive, not {factor}")
    from scipy.signal import resample_poly

    ratio = Fraction(factor).limit_denominator(100)
    return resample_poly(np.asarray(y, np.float64), ratio.denominator, ratio.numerator).astype(
        np.float32
    )


def augmentation_name(factor: float) -> str:
    """How a copy at ``factor`` is named in caches and pseudo-listener ids: ``speed0.9``."""
    return f"speed{factor:g}"


def _copy_functionals(path: str, factors: tuple[float, ...]) -> list[np.ndarray]:
    from models.voice_candidates import clip_functionals

    sr = DEFAULT_VOICE_SPEC.sr
    y = load_audio(path, sr=sr)
    out = []
    for factor in factors:
        inputs = voice_inputs(y=speed_perturbed(y, factor), sr=sr)
        out.append(clip_functionals(inputs.hsf, inputs.quality).astype(np.float32))
    return out


class AugmentedFunctionalsCache:
    """Clip functionals of speed-perturbed copies of audio files, by content hash."""

    def __init__(self, cache_dir: Path) -> None:
        self.root = Path(cache_dir) / "voice-augmented" / DEFAULT_VOICE_SPEC.version
        self.root.mkdir(parents=True, exist_ok=True)

    def _entry(self, file_hash: str, factor: float) -> Path:
        return self.root / f"{file_hash}-{augmentation_name(factor)}.npy"

    def functionals(
        self, paths: Sequence[Path], hashes: Sequence[str], factors: Sequence[float], *,
        workers: int | None = None, progress=None,
    ) -> dict[float, np.ndarray]:  # fmt: skip
        """``{factor: (len(paths), N_FUNCTIONALS)}``, computing missing copies in parallel.

        Raises
        ------
        DatasetError
            A file that cannot be decoded (named, with the reason).
        """
        factors = tuple(float(f) for f in factors)
        missing = [
            (str(p), h)
            for p, h in zip(paths, hashes, strict=True)
            if not all(self._entry(h, f).exists() for f in factors)
        ]
        if missing:
            workers = workers or max(1, min(os.cpu_count() or 1, 4))
            with ProcessPoolExecutor(max_workers=workers) as pool:
                futures = [(p, h, pool.submit(_copy_functionals, p, factors)) for p, h in missing]
                for p, h, future in futures:
                    try:
                        copies = future.result()
                    except AudioDecodeError as exc:
                        raise DatasetError(f"{p}: {exc}") from exc
                    for factor, values in zip(factors, copies, strict=True):
                        tmp = self._entry(h, factor).with_suffix(".tmp.npy")
                        np.save(tmp, values)
                        tmp.replace(self._entry(h, factor))
                    if progress is not None:
                        progress(1)
        return {f: np.stack([np.load(self._entry(h, f)) for h in hashes]) for f in factors}
