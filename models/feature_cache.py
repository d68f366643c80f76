"""Segment features computed once per audio file and feature-spec version, kept on disk.

The key is the SHA-256 of the file's bytes and the spec version, so a renamed file is not
recomputed and a changed extractor never serves stale features.
"""

from __future__ import annotations

import hashlib
import logging
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from models.audio import load_audio
from models.exceptions import AudioDecodeError, DatasetError
from models.features.music import DEFAULT_SPEC, MusicFeatureSpec, segment_features

__all__ = ["file_sha256", "MusicFeatureCache"]

logger = logging.getLogger(__name__)


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _extract(path: str, spec: MusicFeatureSpec) -> np.ndarray:
    return segment_features(y=load_audio(path, sr=spec.sr), sr=spec.sr, spec=spec)


class MusicFeatureCache:
    """``(n_segments, 62)`` matrices of audio files, cached under ``root/<spec version>/``."""

    def __init__(self, root: Path, spec: MusicFeatureSpec = DEFAULT_SPEC) -> None:
        self.spec = spec
        self.root = Path(root) / spec.version
        self.root.mkdir(parents=True, exist_ok=True)

    def _entry(self, file_hash: str) -> Path:
        return self.root / f"{file_hash}.npy"

    def features(
        self, paths: list[Path], *, workers: int | None = None, progress=None
    ) -> tuple[list[np.ndarray], list[str]]:
        """Features and file hashes of ``paths``, computing the missing ones in parallel."""
        hashes = [file_sha256(p) for p in paths]
        missing = [
            (p, h) for p, h in zip(paths, hashes, strict=True) if not self._entry(h).exists()
        ]
        if missing:
            workers = workers or max(1, min(os.cpu_count() or 1, 4))
            logger.info("extracting features of %d files with %d workers", len(missing), workers)
            with ProcessPoolExecutor(max_workers=workers) as pool:
                futures = [(h, pool.submit(_extract, str(p), self.spec)) for p, h in missing]
                for (path, _), (h, future) in zip(missing, futures, strict=True):
                    try:
                        matrix = future.result()
                    except AudioDecodeError as exc:
                        raise DatasetError(f"{path}: {exc}") from exc
                    tmp = self._entry(h).with_suffix(".tmp.npy")
                    np.save(tmp, matrix)
                    tmp.replace(self._entry(h))
                    if progress is not None:
                        progress(1)
        return [np.load(self._entry(h)) for h in hashes], hashes
