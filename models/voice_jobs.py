"""The voice jobs behind ``moodstream train voice`` and ``moodstream evaluate voice``."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from models.calibration import apply_temperature
from models.datasets.corpora import as_folders, data_paths, describe_corpora, read_corpora
from models.evaluation import (
    OutOfFold,
    Protocol,
    across_corpora,
    calibration_summary,
    choose_champion,
    confusion_percent,
    validation_metrics,
    write_report,
)
from models.features.voice import DEFAULT_VOICE_SPEC
from models.registry import ModelRecord, ModelRegistry, store_trained_model
from models.splits import Fold, corpus_folds, group_folds, rbf_svm_accuracy
from models.voice import (
    VoiceFeatureCache,
    VoiceSample,
    fit_voice_model,
    pad_voice_batch,
    voice_temperature,
)
from models.voice_candidates import (
    SHRINKAGE_CLIPS,
    VOICE_CANDIDATES,
    VoiceCandidate,
    VoiceHead,
    arrival_order,
    clip_functionals,
    fit_voice_candidate,
)
from models.voice_model import TABLE3_ROWS, VOICE_METHOD, VOICE_ROWS_BY_KEY, VoiceModelConfig
from schemas.emotions import EMOTIONS

__all__ = [
    "PAPER_TABLE3",
    "EGEMAPS_ROW",
    "DEFAULT_VOICE_MODEL",
    "VOICE_MODELS",
    "evaluate_voice",
    "run_train_voice",
    "run_evaluate_voice",
]

logger = logging.getLogger(__name__)

#: What ``moodstream train voice`` trains unless told otherwise: the champion of docs/voice-model.md's
#: evaluations across the three speech corpora (HSF functionals + voice quality, listener-normalised,
#: + 3 averaged one-layer networks).
DEFAULT_VOICE_MODEL = "quality-listener-mlp"
#: Every trainable voice model by its ``--model`` key: Table 3's rows and the candidates.
VOICE_MODELS: dict[str, VoiceModelConfig | VoiceCandidate] = {
    **VOICE_ROWS_BY_KEY,
    **VOICE_CANDIDATES,
}

PAPER_TABLE3 = {"CRNN": 64.0, "HSF + CRNN": 68.5, VOICE_METHOD.name: 72.6}
EGEMAPS_ROW = "reference: eGeMAPS functionals (openSMILE) + RBF SVM"


def load_voice_set(cache_dir: Path, data: Path | Sequence[Path], group_col: str | None):
    """(clips, samples, file hashes) of one labelled folder or the union of several
    (:func:`models.datasets.corpora.read_corpora`); inputs cached under ``cache_dir/voice``."""
    clips = read_corpora(as_folders(data), group_col=group_col)
    cache = VoiceFeatureCache(cache_dir / "voice")
    with tqdm(total=len(clips), desc="voice inputs", unit="clip", leave=False) as bar:
        samples, hashes = cache.samples([c.path for c in clips], progress=bar.update)
    return clips, samples, hashes


def _speed_copies(
    cache_dir: Path, clips: Sequence, hashes: Sequence[str], candidates: Sequence
) -> dict[float, np.ndarray] | None:
    """Functionals of the speed-perturbed copies the ``candidates`` train on (None when none
    asks for any), cached under ``cache_dir`` (:mod:`models.voice_augment`)."""
    factors = sorted({f for c in candidates for f in getattr(c, "augment", ())})
    if not factors:
        return None
    from models.voice_augment import AugmentedFunctionalsCache

    with tqdm(total=len(clips), desc="speed copies", unit="clip", leave=False) as bar:
        return AugmentedFunctionalsCache(cache_dir).functionals(
            [c.path for c in clips], hashes, factors, progress=bar.update
        )


def _egemaps(paths: list[Path]) -> np.ndarray | None:
    from models.egemaps_reference import egemaps_available, egemaps_functionals

    return egemaps_functionals(paths) if egemaps_available() else None


def evaluate_voice(
    samples: list[VoiceSample],
    labels: list[str],
    groups: list[str],
    *,
    folds: int = 5,
    seed: int = 0,
    rows: tuple[VoiceModelConfig, ...] = TABLE3_ROWS,
    overrides: dict | None = None,
    reference: np.ndarray | None = None,
    candidates: tuple[VoiceCandidate, ...] = (),
    progress=None,
    splits: list[Fold] | None = None,
    corpora: Sequence[str] | None = None,
    copies: dict[float, np.ndarray] | None = None,
) -> dict:
    """Speaker-independent group-wise CV of every row (+ the eGeMAPS/SVM reference when given,
    + the ``candidates`` of :mod:`models.voice_candidates`), all on the same folds; ``splits``
    replaces the grouped folds (leave-one-corpus-out: :func:`models.splits.corpus_folds`).
    ``copies``: functionals of speed-perturbed copies of the samples, by factor, for the
    candidates that train on them (training sides only)."""
    y = np.array([EMOTIONS.index(e) for e in labels])
    groups_arr = np.asarray(groups)
    configs = [row.with_(**(overrides or {})) for row in rows]
    per_fold: dict[str, list[float]] = {c.name: [] for c in configs}
    if reference is not None:
        per_fold[EGEMAPS_ROW] = []
    kinds = {EGEMAPS_ROW: "reference"} | {c.name: "candidate" for c in candidates}
    chosen: dict[str, list[str]] = {c.name: [] for c in candidates}
    functionals = (
        np.stack([clip_functionals(s.hsf, s.quality) for s in samples]) if candidates else None
    )
    position = arrival_order(groups_arr, seed)
    oof: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {
        name: [] for name in [c.name for c in configs] + [c.name for c in candidates]
    }
    method_true, method_pred = [], []
    splits = splits or group_folds(y, groups_arr, folds, seed)
    folds = len(splits)
    scores = OutOfFold(y)
    for k, fold in enumerate(splits):
        hsf, spec = pad_voice_batch([samples[i] for i in fold.test])
        for config in configs:
            train_samples = [samples[i] for i in fold.train]
            train_labels = [labels[i] for i in fold.train]
            train_groups = groups_arr[fold.train].tolist()
            model, _ = fit_voice_model(
                config, train_samples, train_labels, train_groups, seed=seed + k
            )
            temperature = voice_temperature(
                model, train_samples, train_labels, train_groups, seed=seed + k
            )
            raw = np.asarray(model((hsf, spec), training=False))
            oof[config.name].append((fold.test, raw, apply_temperature(raw, temperature)))
            pred = raw.argmax(axis=1)
            per_fold[config.name].append(scores.record(config.name, fold.test, pred))
            if config.name == VOICE_METHOD.name:
                method_true.append(y[fold.test])
                method_pred.append(pred)
            if progress is not None:
                progress(1)
        if reference is not None:
            _, svm_pred = rbf_svm_accuracy(reference, y, fold, seed)
            per_fold[EGEMAPS_ROW].append(scores.record(EGEMAPS_ROW, fold.test, svm_pred))
        for candidate in candidates:
            train, test = fold.train, fold.test
            fitted = fit_voice_candidate(
                candidate, functionals[train], y[train], groups_arr[train], position[train],
                seed + k, {f: c[train] for f, c in (copies or {}).items()},
            )  # fmt: skip
            raw, calibrated = fitted.probabilities(
                functionals[test], groups_arr[test], position[test]
            )
            per_fold.setdefault(candidate.name, []).append(
                scores.record(candidate.name, test, raw.argmax(axis=1))
            )
            chosen[candidate.name].append(f"{fitted.describe_choice()} T={fitted.temperature:.2f}")
            oof[candidate.name].append((test, raw, calibrated))
    rows = [
        {
            "name": name,
            "accuracy_mean": float(np.mean(accs)),
            "accuracy_std": float(np.std(accs)),
            "per_fold": accs,
            "paper_accuracy": PAPER_TABLE3.get(name),
            "kind": kinds.get(name, "paper"),
            **({"chosen_per_fold": chosen[name]} if name in chosen else {}),
            **(calibration_summary(oof[name], y) if name in oof else {}),
            **scores.per_corpus(name, corpora),
        }
        for name, accs in per_fold.items()
    ]
    report = {
        "task": "voice emotion",
        "folds": folds,
        "fold_names": [fold.name for fold in splits],
        "seed": seed,
        "clips": len(labels),
        "groups": int(np.unique(groups_arr).size),
        "class_counts": {e: int(np.sum(y == i)) for i, e in enumerate(EMOTIONS)},
        "rows": rows,
        "overrides": overrides or {},
        "emotions": list(EMOTIONS),
        "notes": []
        if reference is not None
        else ["opensmile is not installed: no eGeMAPS reference row"],
    }
    report["champion"] = max(report["rows"], key=lambda row: row["accuracy_mean"])["name"]
    if method_true:
        report["confusion"] = confusion_percent(
            np.concatenate(method_true), np.concatenate(method_pred)
        )
        report["confusion_row"] = VOICE_METHOD.name
    return report


def run_evaluate_voice(
    data_dir: Path | Sequence[Path],
    *,
    cache_dir: Path,
    out_dir: Path,
    folds: int = 5,
    group_col: str | None = None,
    seed: int = 0,
    overrides: dict | None = None,
    rows: tuple[VoiceModelConfig, ...] = TABLE3_ROWS,
    reference: bool = True,
    candidates: tuple[VoiceCandidate, ...] = tuple(VOICE_CANDIDATES.values()),
    protocol: Protocol = "grouped",
) -> dict:
    """Cross-validate on ``data_dir`` (one folder, or several pooled), grouped; with
    ``protocol="loco"`` also leave-one-corpus-out (``report["loco"]``); write report.json and
    the figures into ``out_dir``."""
    clips, samples, hashes = load_voice_set(cache_dir, data_dir, group_col)
    features = _egemaps([c.path for c in clips]) if reference else None
    corpora = [c.corpus for c in clips]
    copies = _speed_copies(cache_dir, clips, hashes, candidates)

    def run(splits) -> dict:
        with tqdm(
            total=(len(splits) if splits else folds) * len(rows), desc="models", unit="fit"
        ) as bar:
            return evaluate_voice(
                samples, [c.emotion for c in clips], [c.group for c in clips], folds=folds,
                seed=seed, rows=rows, overrides=overrides, reference=features,
                candidates=candidates, progress=bar.update, splits=splits, corpora=corpora,
                copies=copies,
            )  # fmt: skip

    report = run(None)
    if protocol == "loco":
        report["loco"] = run(corpus_folds(np.array(corpora)))
        report["across_corpora"] = across_corpora(report, report["loco"])
        report["champion_rule"] = choose_champion(report, report["loco"])
        report["champion"] = report["champion_rule"]["champion"] or report["champion"]
    if not reference:
        report["notes"] = ["reference row not requested (--no-reference)"]
    report["data"] = data_paths(data_dir)
    report["feature_spec"] = DEFAULT_VOICE_SPEC.version
    write_report(report, out_dir)
    return report


def run_train_voice(
    data_dir: Path | Sequence[Path],
    *,
    cache_dir: Path,
    registry: ModelRegistry | None,
    model: VoiceModelConfig | VoiceCandidate = VOICE_CANDIDATES[DEFAULT_VOICE_MODEL],
    group_col: str | None = None,
    seed: int = 0,
    promote: bool = False,
    out_dir: Path | None = None,
    cv_folds: int = 0,
) -> tuple[ModelRecord | None, Path]:
    """Train ``model`` (a Table 3 network or a functionals candidate) on every clip of
    ``data_dir``; store it in ``registry`` (and promote it). With no registry the model is only
    written to ``out_dir``. With ``cv_folds`` >= 2 the model is first cross-validated and its
    accuracy stored with it."""
    clips, samples, hashes = load_voice_set(cache_dir, data_dir, group_col)
    labels, groups = [c.emotion for c in clips], [c.group for c in clips]
    out_dir = Path(out_dir or tempfile.mkdtemp(prefix="moodstream-voice-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    if isinstance(model, VoiceCandidate):
        return _train_candidate(
            model, clips, samples, hashes, registry=registry, seed=seed, promote=promote,
            out_dir=out_dir, cv_folds=cv_folds, data_dir=data_dir, cache_dir=cache_dir,
        )  # fmt: skip
    config = model
    cross_validation = None
    if cv_folds:
        cross_validation = validation_metrics(
            lambda splits: evaluate_voice(
                samples, labels, groups, folds=cv_folds, seed=seed, rows=(config,),
                splits=splits, corpora=[c.corpus for c in clips],
            ),
            config.name, [c.corpus for c in clips],
        )  # fmt: skip
    network, history = fit_voice_model(config, samples, labels, groups, seed=seed, verbose=2)
    temperature = voice_temperature(network, samples, labels, groups, seed=seed)
    network.save(out_dir / "model.keras")
    record = store_trained_model(
        registry, "voice", out_dir, corpora=describe_corpora(as_folders(data_dir), clips),
        history=history, clips=clips, file_hashes=hashes,
        training={"config": config.to_dict(), "seed": seed, "temperature": temperature,
                  "feature_spec": DEFAULT_VOICE_SPEC.version, "data": data_paths(data_dir)},
        feature_spec=DEFAULT_VOICE_SPEC.version,
        hyperparameters={**config.to_dict(), "seed": seed, "temperature": temperature},
        promote=promote, cross_validation=cross_validation,
    )  # fmt: skip
    return record, out_dir


def _train_candidate(
    candidate: VoiceCandidate, clips: list, samples: list[VoiceSample], hashes: list[str], *,
    registry: ModelRegistry | None, seed: int, promote: bool, out_dir: Path, cv_folds: int,
    data_dir: Path, cache_dir: Path,
) -> tuple[ModelRecord | None, Path]:  # fmt: skip
    """Fit a functionals candidate on all clips (``C`` and temperature from grouped inner
    folds) and store it as ``head.npz``."""
    labels, groups = [c.emotion for c in clips], [c.group for c in clips]
    copies = _speed_copies(cache_dir, clips, hashes, (candidate,))
    cross_validation = None
    if cv_folds:
        cross_validation = validation_metrics(
            lambda splits: evaluate_voice(
                samples, labels, groups, folds=cv_folds, seed=seed, rows=(),
                candidates=(candidate,), splits=splits, corpora=[c.corpus for c in clips],
                copies=copies,
            ),
            candidate.name, [c.corpus for c in clips],
        )  # fmt: skip
    x = np.stack([clip_functionals(s.hsf, s.quality) for s in samples])
    y = np.array([EMOTIONS.index(e) for e in labels])
    groups_arr = np.asarray(groups)
    position = arrival_order(groups_arr, seed)
    fitted = fit_voice_candidate(candidate, x, y, groups_arr, position, seed, copies)
    head = VoiceHead.from_fitted(fitted)
    head.save(out_dir / "head.npz")
    raw, _ = fitted.probabilities(x, groups_arr, position)
    hyperparameters = {
        "model": candidate.key,
        **{k: float(v) for k, v in fitted.search.best_params_.items()},
        "temperature": fitted.temperature,
        "listener_normalised": candidate.listener_normalised,
        "shrinkage_clips": SHRINKAGE_CLIPS,
        "speed_copies": list(candidate.augment),
        "seed": seed,
    }
    record = store_trained_model(
        registry, "voice", out_dir, corpora=describe_corpora(as_folders(data_dir), clips),
        history={"accuracy": [float(np.mean(raw.argmax(axis=1) == y))]}, clips=clips,
        file_hashes=hashes,
        training={**hyperparameters, "feature_spec": DEFAULT_VOICE_SPEC.version,
                  "data": data_paths(data_dir)},
        feature_spec=DEFAULT_VOICE_SPEC.version, hyperparameters=hyperparameters,
        promote=promote, cross_validation=cross_validation, artefact="head.npz",
    )  # fmt: skip
    return record, out_dir
