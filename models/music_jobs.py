"""The music emotion jobs behind ``moodstream train music`` and ``moodstream evaluate music``."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from tqdm import tqdm

from models.datasets.labelled import read_labelled_folder
from models.evaluation import cv_metrics, evaluate_music, write_report
from models.feature_cache import MusicFeatureCache
from models.features.music import DEFAULT_SPEC
from models.music_candidates import CANDIDATES, Candidate
from models.music_embedding import MusicEmbeddingCache
from models.music_model import METHOD_MSE, TABLE1_ROWS, MusicModelConfig
from models.registry import ModelRecord, ModelRegistry, store_trained_model
from models.training import fit_music_model

__all__ = ["load_music_set", "run_train_music", "run_evaluate_music"]

logger = logging.getLogger(__name__)


def load_music_set(cache_dir: Path, data_dir: Path, group_col: str | None = None):
    """(clips, segment matrices, file hashes) of a labelled folder, features cached under
    ``cache_dir/features``."""
    clips = read_labelled_folder(data_dir, group_col=group_col)
    cache = MusicFeatureCache(cache_dir / "features")
    with tqdm(total=len(clips), desc="features", unit="track", leave=False) as bar:
        matrices, hashes = cache.features([c.path for c in clips], progress=bar.update)
    return clips, matrices, hashes


def run_train_music(
    data_dir: Path,
    *,
    cache_dir: Path,
    registry: ModelRegistry | None,
    config: MusicModelConfig = METHOD_MSE,
    group_col: str | None = None,
    seed: int = 0,
    promote: bool = False,
    out_dir: Path | None = None,
    cv_folds: int = 0,
) -> tuple[ModelRecord | None, Path]:
    """Train on every clip of ``data_dir``; store the model in ``registry`` (and promote it).

    With no registry the model is only written to ``out_dir`` (a new temporary folder by default).
    With ``cv_folds`` >= 2 the same configuration is first cross-validated (grouped folds) and its
    accuracy stored with the model, which lets ``models promote`` refuse a worse one.
    """
    clips, matrices, hashes = load_music_set(cache_dir, data_dir, group_col)
    labels, groups = [c.emotion for c in clips], [c.group for c in clips]
    cross_validation = None
    if cv_folds:
        cv = evaluate_music(matrices, labels, groups, folds=cv_folds, seed=seed, rows=(config,))
        cross_validation = cv_metrics(cv, config.name)
    model, history = fit_music_model(config, matrices, labels, groups, seed=seed, verbose=2)
    out_dir = Path(out_dir or tempfile.mkdtemp(prefix="moodstream-music-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(out_dir / "model.keras")
    record = store_trained_model(
        registry, "music", out_dir, history=history, clips=clips, file_hashes=hashes,
        training={"config": config.to_dict(), "seed": seed, "feature_spec": DEFAULT_SPEC.version,
                  "data": str(data_dir)},
        feature_spec=DEFAULT_SPEC.version, hyperparameters={**config.to_dict(), "seed": seed},
        promote=promote, cross_validation=cross_validation,
    )  # fmt: skip
    return record, out_dir


def run_evaluate_music(
    data_dir: Path,
    *,
    cache_dir: Path,
    folds: int = 5,
    group_col: str | None = None,
    out_dir: Path,
    seed: int = 0,
    overrides: dict | None = None,
    rows: tuple[MusicModelConfig, ...] = TABLE1_ROWS,
    candidates: tuple[Candidate, ...] = tuple(CANDIDATES.values()),
) -> dict:
    """Cross-validate the Table 1 ``rows``, the SVM reference and the ``candidates`` on the same
    folds of ``data_dir``; write report.json and figures to ``out_dir``."""
    clips, matrices, hashes = load_music_set(cache_dir, data_dir, group_col)
    embeddings = None
    if candidates:
        with tqdm(total=len(clips), desc="embeddings", unit="track", leave=False) as bar:
            cache = MusicEmbeddingCache(cache_dir / "embeddings")
            embeddings = cache.embeddings(
                [c.path for c in clips], hashes=hashes, progress=bar.update
            )
    with tqdm(total=folds * len(rows), desc="models", unit="fit") as bar:
        report = evaluate_music(
            matrices,
            [c.emotion for c in clips],
            [c.group for c in clips],
            folds=folds,
            seed=seed,
            rows=rows,
            overrides=overrides,
            candidates=candidates,
            embeddings=embeddings,
            progress=bar.update,
        )
    report["data"] = str(data_dir)
    report["feature_spec"] = DEFAULT_SPEC.version
    write_report(report, out_dir)
    logger.info("report written to %s", out_dir / "report.json")
    return report
