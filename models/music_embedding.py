"""Track-level music embeddings from the pretrained musicnn taggers, cached per audio file.

A track's embedding is, for each musicnn model, the mean and the standard deviation over its 3 s
patches of the 200-unit penultimate layer, and the mean of the 50 tag probabilities: 450 values
per model, 900 for MSD + MTT. At most :data:`MAX_PATCHES` patches, spread over the track, are
analysed, which bounds the cost of a long track.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np

from models.audio import load_audio
from models.exceptions import AudioDecodeError, DatasetError
from models.feature_cache import file_sha256
from models.musicnn import MUSICNN_MODELS, MUSICNN_SR, Musicnn, musicnn_log_mel, musicnn_patches

__all__ = [
    "MAX_PATCHES",
    "EMBEDDING_VERSION",
    "EMBEDDING_SIZE",
    "embedding_columns",
    "MusicEmbedder",
    "MusicEmbeddingCache",
]

logger = logging.getLogger(__name__)

#: Patches analysed per track at most (spread evenly): 48 s of a track of any length.
MAX_PATCHES = 16
#: Changes whenever what an embedding holds changes; part of every cache key.
EMBEDDING_VERSION = (
    "musicnn-"
    + hashlib.sha256(
        repr((MUSICNN_MODELS, MAX_PATCHES, "mean+std penultimate, mean tags")).encode()
    ).hexdigest()[:10]
)


#: Each model's block of an embedding: part name -> (offset, width).
_BLOCK = {"penultimate_mean": (0, 200), "penultimate_std": (200, 200), "tags": (400, 50)}
_BLOCK_SIZE = 450
EMBEDDING_SIZE = _BLOCK_SIZE * len(MUSICNN_MODELS)


def embedding_columns(parts: tuple[str, ...]) -> np.ndarray:
    """Column indices of the named parts (``penultimate_mean``, ``penultimate_std``, ``tags``)
    of every model's block, in embedding order."""
    columns = []
    for block in range(len(MUSICNN_MODELS)):
        for part in parts:
            offset, width = _BLOCK[part]
            start = block * _BLOCK_SIZE + offset
            columns.append(np.arange(start, start + width))
    return np.concatenate(columns)


class MusicEmbedder:
    """Both musicnn models, loaded once; :meth:`embed` gives a track's 900 values."""

    def __init__(self, models: tuple[str, ...] = MUSICNN_MODELS) -> None:
        self.networks = [Musicnn(m) for m in models]

    def embed(self, y: np.ndarray) -> np.ndarray:
        """The embedding of 16 kHz mono audio ``y``."""
        patches = musicnn_patches(musicnn_log_mel(y), max_patches=MAX_PATCHES)
        parts = []
        for network in self.networks:
            out = network(patches)
            parts += [
                out.penultimate.mean(axis=0),
                out.penultimate.std(axis=0),
                out.tags.mean(axis=0),
            ]
        return np.concatenate(parts).astype(np.float32)


class MusicEmbeddingCache:
    """Embeddings of audio files, cached under ``root/<EMBEDDING_VERSION>/<sha256>.npy``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root) / EMBEDDING_VERSION
        self.root.mkdir(parents=True, exist_ok=True)
        self._embedder: MusicEmbedder | None = None

    def embeddings(
        self, paths: list[Path], *, hashes: list[str] | None = None, progress=None
    ) -> np.ndarray:
        """``(len(paths), 900)``; missing ones are computed in this process (TensorFlow).

        ``hashes`` are the files' SHA-256 when the caller has them (the feature cache returns
        them), so the audio is not read again just to find the cache entries.
        """
        rows = []
        for i, path in enumerate(paths):
            file_hash = hashes[i] if hashes is not None else file_sha256(path)
            entry = self.root / f"{file_hash}.npy"
            if not entry.exists():
                if self._embedder is None:
                    self._embedder = MusicEmbedder()
                try:
                    vector = self._embedder.embed(load_audio(path, sr=MUSICNN_SR))
                except AudioDecodeError as exc:
                    raise DatasetError(f"{path}: {exc}") from exc
                tmp = entry.with_suffix(".tmp.npy")
                np.save(tmp, vector)
                tmp.replace(entry)
            rows.append(np.load(entry))
            if progress is not None:
                progress(1)
        return np.stack(rows)
