"""Does the musicnn wheel's VGG taggers' embedding help the served music head? A probe.

``python -m models.vgg_probe [--data DIR ...] [--parts mean,std,max,tags]`` (default data:
``../shared/data`` emopia and q4_dev; cache ``--cache .moodstream/cache``) embeds every clip
with ``MSD_vgg`` and ``MTT_vgg`` (per model: the mean, standard deviation and maximum over the
track's 3 s patches of the 256-value flattened last pooling map, and the mean tag
probabilities: 818 values; cached under ``CACHE/vgg-probe``), then cross-validates
the champion's classifier (:func:`models.music_candidates.fit_candidate`, the same grouped
folds as ``moodstream evaluate music``) on the champion's inputs with and without the chosen VGG
parts, and prints pooled and per-corpus accuracy. The VGG columns always join the inputs (they
sit after the musicnn embedding, where the champion keeps the segment statistics).

Its result (2026-12-06, docs/music-model.md) kept the VGG models out of the served embedding.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.audio import load_audio
from models.musicnn import MUSICNN_SR, VGG_MODELS, Musicnn, musicnn_log_mel, musicnn_patches
from models.probe_cli import accuracy_by_corpus, probe_data, probe_parser, write_accuracy

__all__ = ["VGG_PARTS", "vgg_columns", "VggProbeEmbedder", "probe"]

#: Each VGG model's block of a probe embedding: part -> (offset, width).
VGG_PARTS = {"mean": (0, 256), "std": (256, 256), "max": (512, 256), "tags": (768, 50)}
_BLOCK = 818


def vgg_columns(parts: tuple[str, ...]) -> np.ndarray:
    """Column indices of the named :data:`VGG_PARTS` of both models' blocks."""
    return np.concatenate(
        [
            np.arange(block * _BLOCK + VGG_PARTS[p][0], block * _BLOCK + sum(VGG_PARTS[p]))
            for block in range(len(VGG_MODELS))
            for p in parts
        ]
    )


class VggProbeEmbedder:
    """Both VGG taggers; :meth:`embed` gives a track's ``2 * 818`` values."""

    def __init__(self, max_patches: int = 16) -> None:
        self.networks = [Musicnn(m) for m in VGG_MODELS]
        self.max_patches = max_patches

    def embed(self, y: np.ndarray) -> np.ndarray:
        """The probe embedding of 16 kHz mono audio ``y``."""
        patches = musicnn_patches(musicnn_log_mel(y), max_patches=self.max_patches)
        parts = []
        for network in self.networks:
            out = network(patches)
            pen = out.penultimate
            parts += [pen.mean(axis=0), pen.std(axis=0), pen.max(axis=0), out.tags.mean(axis=0)]
        return np.concatenate(parts).astype(np.float32)


def probe(data: list[Path], cache_dir: Path, parts: tuple[str, ...], folds: int = 5) -> dict:
    """Pooled and per-corpus grouped-CV accuracy of the champion's inputs, then with VGG."""
    from models.evaluation import segment_statistics
    from models.music_candidates import fit_candidate
    from models.music_jobs import load_music_embeddings, load_music_set
    from models.splits import group_folds
    from schemas.emotions import EMOTIONS

    clips, matrices, hashes = load_music_set(cache_dir, data)
    champion_inputs = np.concatenate(
        [load_music_embeddings(cache_dir, clips, hashes), segment_statistics(matrices)], axis=1
    )
    store = cache_dir / "vgg-probe"
    store.mkdir(parents=True, exist_ok=True)
    embedder = None
    rows = []
    for clip, file_hash in zip(clips, hashes, strict=True):
        entry = store / f"{file_hash}.npy"
        if not entry.exists():
            embedder = embedder or VggProbeEmbedder()
            np.save(entry, embedder.embed(load_audio(clip.path, sr=MUSICNN_SR)))
        rows.append(np.load(entry))
    vgg = np.stack(rows)[:, vgg_columns(parts)]
    y = np.array([EMOTIONS.index(c.emotion) for c in clips])
    groups = np.array([c.group for c in clips])
    corpora = np.array([c.corpus for c in clips])
    splits = group_folds(y, groups, folds, 0)
    results = {}
    # fit_candidate keeps every column after the musicnn embedding: the statistics and VGG.
    inputs = {"champion": champion_inputs, "champion+vgg": np.hstack([champion_inputs, vgg])}
    for name, x in inputs.items():
        predicted = np.zeros_like(y)
        for k, fold in enumerate(splits):
            clf = fit_candidate(x[fold.train], y[fold.train], groups[fold.train], k)
            predicted[fold.test] = clf.predict(x[fold.test])
        results[name] = accuracy_by_corpus(predicted == y, corpora)
    return results


def main() -> None:
    """The command line (see the module's docstring)."""
    parser = probe_parser(__doc__.splitlines()[0])
    parser.add_argument("--parts", default="mean,std,max,tags")
    args = parser.parse_args()
    for name, accuracy in probe(probe_data(args), args.cache, tuple(args.parts.split(","))).items():
        write_accuracy(f"{name} (VGG parts {args.parts})", accuracy)


if __name__ == "__main__":
    main()
