"""The music emotion jobs behind ``moodstream train music`` and ``moodstream evaluate music``."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from models.datasets.corpora import as_folders, data_paths, describe_corpora, read_corpora
from models.evaluation import (
    Protocol,
    across_corpora,
    choose_champion,
    evaluate_music,
    segment_statistics,
    validation_metrics,
    write_report,
)
from models.feature_cache import MusicFeatureCache
from models.features.music import DEFAULT_SPEC
from models.music_candidates import (
    CANDIDATES,
    Candidate,
    candidate_inputs,
    candidate_temperature,
    describe_choice,
    fit_candidate,
)
from models.music_embedding import EMBEDDING_VERSION, MusicEmbeddingCache
from models.music_model import ROWS_BY_KEY, TABLE1_ROWS, MusicModelConfig
from models.registry import ModelRecord, ModelRegistry, store_trained_model
from models.splits import corpus_folds
from models.training import fit_music_model
from schemas.emotions import EMOTIONS

__all__ = [
    "DEFAULT_MUSIC_MODEL",
    "MUSIC_MODELS",
    "load_music_set",
    "load_music_embeddings",
    "run_train_music",
    "run_evaluate_music",
]

#: What ``moodstream train music`` trains unless told otherwise: the champion of the EMOPIA
#: evaluation in docs/music-model.md (musicnn embedding + 62-dim statistics + logistic regression).
DEFAULT_MUSIC_MODEL = "embedding-stats-lr"
#: Every trainable music model by its ``--model`` key: Table 1's rows and the candidates.
MUSIC_MODELS: dict[str, MusicModelConfig | Candidate] = {**ROWS_BY_KEY, **CANDIDATES}

logger = logging.getLogger(__name__)


def load_music_set(cache_dir: Path, data: Path | Sequence[Path], group_col: str | None = None):
    """(clips, segment matrices, file hashes) of one labelled folder or the union of several
    (:func:`models.datasets.corpora.read_corpora`), features cached under
    ``cache_dir/features``."""
    clips = read_corpora(as_folders(data), group_col=group_col)
    cache = MusicFeatureCache(cache_dir / "features")
    with tqdm(total=len(clips), desc="features", unit="track", leave=False) as bar:
        matrices, hashes = cache.features([c.path for c in clips], progress=bar.update)
    return clips, matrices, hashes


def load_music_embeddings(cache_dir: Path, clips: list, hashes: list[str]) -> np.ndarray:
    """The musicnn embeddings ``(n, 900)`` of ``clips``, cached under ``cache_dir/embeddings``."""
    with tqdm(total=len(clips), desc="embeddings", unit="track", leave=False) as bar:
        cache = MusicEmbeddingCache(cache_dir / "embeddings")
        return cache.embeddings([c.path for c in clips], hashes=hashes, progress=bar.update)


def run_train_music(
    data_dir: Path | Sequence[Path],
    *,
    cache_dir: Path,
    registry: ModelRegistry | None,
    model: MusicModelConfig | Candidate = CANDIDATES[DEFAULT_MUSIC_MODEL],
    group_col: str | None = None,
    seed: int = 0,
    promote: bool = False,
    out_dir: Path | None = None,
    cv_folds: int = 0,
) -> tuple[ModelRecord | None, Path]:
    """Train ``model`` (a Table 1 network or an embedding candidate) on every clip of
    ``data_dir`` (a folder, or several trained on as one set); store it in ``registry`` (and
    promote it).

    With no registry the model is only written to ``out_dir`` (a new temporary folder by default).
    With ``cv_folds`` >= 2 the same model is first cross-validated (grouped folds) and its
    accuracy stored with it, which lets ``models promote`` refuse a worse one.
    """
    clips, matrices, hashes = load_music_set(cache_dir, data_dir, group_col)
    out_dir = Path(out_dir or tempfile.mkdtemp(prefix="moodstream-music-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    if isinstance(model, Candidate):
        return _train_candidate(
            model, clips, matrices, hashes, cache_dir=cache_dir, registry=registry, seed=seed,
            promote=promote, out_dir=out_dir, cv_folds=cv_folds, data_dir=data_dir,
        )  # fmt: skip
    config = model
    labels, groups = [c.emotion for c in clips], [c.group for c in clips]
    cross_validation = None
    if cv_folds:
        cross_validation = validation_metrics(
            lambda splits: evaluate_music(
                matrices, labels, groups, folds=cv_folds, seed=seed, rows=(config,),
                splits=splits, corpora=[c.corpus for c in clips],
            ),
            config.name, [c.corpus for c in clips],
        )  # fmt: skip
    network, history = fit_music_model(config, matrices, labels, groups, seed=seed, verbose=2)
    network.save(out_dir / "model.keras")
    record = store_trained_model(
        registry, "music", out_dir, corpora=describe_corpora(as_folders(data_dir), clips),
        history=history, clips=clips, file_hashes=hashes,
        training={"config": config.to_dict(), "seed": seed, "feature_spec": DEFAULT_SPEC.version,
                  "data": data_paths(data_dir)},
        feature_spec=DEFAULT_SPEC.version, hyperparameters={**config.to_dict(), "seed": seed},
        promote=promote, cross_validation=cross_validation,
    )  # fmt: skip
    return record, out_dir


def _train_candidate(
    candidate: Candidate, clips: list, matrices: list[np.ndarray], hashes: list[str], *,
    cache_dir: Path, registry: ModelRegistry | None, seed: int, promote: bool, out_dir: Path,
    cv_folds: int, data_dir: Path,
) -> tuple[ModelRecord | None, Path]:  # fmt: skip
    """Fit an embedding candidate on all clips (parts and C chosen by grouped inner CV, the
    temperature on its out-of-fold probabilities) and store its head as ``head.npz``."""
    from models.embedding_head import LinearHead

    labels, groups = [c.emotion for c in clips], [c.group for c in clips]
    embeddings = load_music_embeddings(cache_dir, clips, hashes)
    cross_validation = None
    if cv_folds:
        cross_validation = validation_metrics(
            lambda splits: evaluate_music(
                matrices, labels, groups, folds=cv_folds, seed=seed, rows=(),
                candidates=(candidate,), embeddings=embeddings, splits=splits,
                corpora=[c.corpus for c in clips],
            ),
            candidate.name, [c.corpus for c in clips],
        )  # fmt: skip
    x = candidate_inputs(candidate, embeddings, segment_statistics(matrices))
    y = np.array([EMOTIONS.index(e) for e in labels])
    groups_arr = np.asarray(groups)
    search = fit_candidate(x, y, groups_arr, seed)
    temperature = candidate_temperature(search, x, y, groups_arr, seed)
    head = LinearHead.from_pipeline(search.best_estimator_, x.shape[1], temperature)
    head.save(out_dir / "head.npz")
    train_accuracy = float(np.mean(head.probabilities(x).argmax(axis=1) == y))
    logger.info(
        "%s: %s T=%.2f, training accuracy %.3f",
        candidate.key, describe_choice(search.best_params_), temperature, train_accuracy,
    )  # fmt: skip
    hyperparameters = {
        "model": candidate.key,
        "parts": list(search.best_params_["functiontransformer__kw_args"]["parts"]),
        "C": float(search.best_params_["logisticregression__C"]),
        "temperature": temperature,
        "with_segment_statistics": candidate.with_segment_statistics,
        "embedding_version": EMBEDDING_VERSION,
        "seed": seed,
    }
    record = store_trained_model(
        registry, "music", out_dir, corpora=describe_corpora(as_folders(data_dir), clips),
        history={"accuracy": [train_accuracy]}, clips=clips,
        file_hashes=hashes,
        training={**hyperparameters, "feature_spec": DEFAULT_SPEC.version, "data": data_paths(data_dir)},
        feature_spec=DEFAULT_SPEC.version, hyperparameters=hyperparameters, promote=promote,
        cross_validation=cross_validation, artefact="head.npz",
    )  # fmt: skip
    return record, out_dir


def run_evaluate_music(
    data_dir: Path | Sequence[Path],
    *,
    cache_dir: Path,
    folds: int = 5,
    group_col: str | None = None,
    out_dir: Path,
    seed: int = 0,
    overrides: dict | None = None,
    rows: tuple[MusicModelConfig, ...] = TABLE1_ROWS,
    candidates: tuple[Candidate, ...] = tuple(CANDIDATES.values()),
    protocol: Protocol = "grouped",
) -> dict:
    """Cross-validate the Table 1 ``rows``, the SVM reference and the ``candidates`` on the same
    grouped folds of ``data_dir`` (pooled over its folders); with ``protocol="loco"`` also
    leave-one-corpus-out (``report["loco"]``, :func:`models.evaluation.across_corpora`). Write
    report.json and figures to ``out_dir``."""
    clips, matrices, hashes = load_music_set(cache_dir, data_dir, group_col)
    embeddings = load_music_embeddings(cache_dir, clips, hashes) if candidates else None

    def run(splits) -> dict:
        with tqdm(
            total=(len(splits) if splits else folds) * len(rows), desc="models", unit="fit"
        ) as bar:
            return evaluate_music(
                matrices, [c.emotion for c in clips], [c.group for c in clips], folds=folds,
                seed=seed, rows=rows, overrides=overrides, candidates=candidates,
                embeddings=embeddings, progress=bar.update, splits=splits,
                corpora=[c.corpus for c in clips],
            )  # fmt: skip

    report = run(None)
    if protocol == "loco":
        report["loco"] = run(corpus_folds(np.array([c.corpus for c in clips])))
        report["across_corpora"] = across_corpora(report, report["loco"])
        report["champion_rule"] = choose_champion(report, report["loco"])
        report["champion"] = report["champion_rule"]["champion"] or report["champion"]
    report["data"] = data_paths(data_dir)
    report["feature_spec"] = DEFAULT_SPEC.version
    write_report(report, out_dir)
    logger.info("report written to %s", out_dir / "report.json")
    return report
