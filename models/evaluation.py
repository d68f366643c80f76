"""Cross-validated evaluation of the music emotion models against the paper's Tables 1 and 2.

Group-wise stratified k-fold (clips of one song never on both sides), every Table 1 row, a
classical reference (segment statistics + SVM) and the candidates on the pretrained embedding
(:mod:`models.music_candidates`), all on the same folds: mean +- std per row, the winner
(``champion``), the method's confusion matrix, the candidates' calibration; a JSON report and
PNG figures.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from models.calibration import expected_calibration_error, plot_reliability, reliability_bins
from models.music_candidates import (
    Candidate,
    calibrated_probabilities,
    candidate_inputs,
    describe_choice,
    fit_candidate,
)
from models.music_model import METHOD_MSE, TABLE1_ROWS, MusicModelConfig
from models.splits import Fold, corpus_folds, group_folds, rbf_svm_accuracy
from models.training import fit_music_model, pad_sequences, select_features
from schemas.emotions import EMOTIONS

__all__ = [
    "Protocol",
    "OutOfFold",
    "UNCERTAIN_BELOW",
    "across_corpora",
    "confusion_percent",
    "calibration_summary",
    "segment_statistics",
    "cv_metrics",
    "validation_metrics",
    "choose_champion",
    "CROSS_CORPUS_FLOOR",
    "PAPER_TABLE1",
    "PAPER_TABLE2",
    "SVM_ROW",
    "evaluate_music",
    "format_cv_report",
]

logger = logging.getLogger(__name__)

#: The paper's Table 1 (accuracy, %), by row name.
PAPER_TABLE1 = {
    "baseline: MFCC + LSTM": 63.0,
    "62-dim + LSTM": 67.0,
    "62-dim + attention + LSTM": 69.8,
    METHOD_MSE.name: 71.5,
}
#: The paper's Table 2 (rows true, columns predicted, %), in EMOTIONS order.
PAPER_TABLE2 = [
    [71.5, 5.0, 5.5, 18.0],
    [6.0, 75.2, 6.8, 12.0],
    [10.3, 8.9, 74.3, 6.5],
    [12.2, 10.9, 13.4, 63.5],
]
SVM_ROW = "reference: segment mean+std + RBF SVM"


def segment_statistics(matrices: list[np.ndarray]) -> np.ndarray:
    """Mean and standard deviation of each feature over a track's segments (the SVM row's input)."""
    return np.stack([np.concatenate([m.mean(axis=0), m.std(axis=0)]) for m in matrices])


def confusion_percent(y_true: np.ndarray, y_pred: np.ndarray) -> list[list[float]]:
    counts = np.zeros((len(EMOTIONS), len(EMOTIONS)))
    np.add.at(counts, (y_true, y_pred), 1)
    rows = counts.sum(axis=1, keepdims=True)
    return (100.0 * counts / np.maximum(rows, 1)).round(1).tolist()


#: ``grouped``: grouped k-fold CV over the pooled corpora; ``loco``: that, and
#: leave-one-corpus-out beside it.
Protocol = Literal["grouped", "loco"]


class OutOfFold:
    """Every row's out-of-fold prediction for each clip, filled fold by fold (-1: not yet)."""

    def __init__(self, y: np.ndarray) -> None:
        self.y = y
        self.predicted: dict[str, np.ndarray] = {}

    def record(self, name: str, test: np.ndarray, predicted: np.ndarray) -> float:
        """Keep ``name``'s predictions for the clips ``test``; return their accuracy."""
        self.predicted.setdefault(name, np.full(self.y.size, -1))[test] = predicted
        return float(np.mean(predicted == self.y[test]))

    def per_corpus(self, name: str, corpora: Sequence[str] | None) -> dict:
        """``{"per_corpus_accuracy": {corpus: accuracy}}`` of ``name`` over the clips it
        predicted, or {} without corpora."""
        if not corpora or name not in self.predicted:
            return {}
        corpora_arr = np.asarray(corpora)
        done = self.predicted[name] >= 0
        return {
            "per_corpus_accuracy": {
                corpus: float(np.mean(self.predicted[name][m] == self.y[m]))
                for corpus in sorted(set(corpora_arr.tolist()))
                if (m := done & (corpora_arr == corpus)).any()
            }
        }


def across_corpora(pooled: dict, loco: dict) -> dict:
    """Per row and corpus, in-corpus (pooled grouped CV, the corpus's clips) beside
    cross-corpus (trained on the other corpora) accuracy, and the calibration of each: the
    table a report's headline comes from."""
    loco_rows = {row["name"]: row for row in loco["rows"]}
    out = {}
    for row in pooled["rows"]:
        cross = loco_rows.get(row["name"])
        if cross is None or "per_corpus_accuracy" not in row:
            continue
        out[row["name"]] = {
            "corpora": {
                corpus: {
                    "in_corpus": accuracy,
                    "cross_corpus": cross.get("per_corpus_accuracy", {}).get(corpus),
                }
                for corpus, accuracy in row["per_corpus_accuracy"].items()
            },
            "pooled_accuracy": row["accuracy_mean"],
            "mean_cross_corpus": cross["accuracy_mean"],
            **{
                f"{key}_{where}": source[key]
                for key in ("ece", "uncertain_rate")
                for where, source in (("pooled", row), ("cross_corpus", cross))
                if key in source
            },
        }
    return out


#: A served answer is marked uncertain below this calibrated probability (the worker's default
#: ``MOODSTREAM_MIN_VOICE_CONFIDENCE``); reports say how often that happens.
UNCERTAIN_BELOW = 0.5


def calibration_summary(
    folds: list[tuple[np.ndarray, np.ndarray, np.ndarray]], y: np.ndarray
) -> dict:
    """ECE of the out-of-fold probabilities, raw and temperature-scaled, and the reliability
    bins of the scaled ones; ``folds`` holds (test indices, raw, scaled probabilities)."""
    index = np.concatenate([test for test, _, _ in folds])
    raw = np.concatenate([r for _, r, _ in folds])
    calibrated = np.concatenate([c for _, _, c in folds])
    truth = y[index]
    return {
        "ece_uncalibrated": expected_calibration_error(raw, truth),
        "ece": expected_calibration_error(calibrated, truth),
        "reliability": reliability_bins(calibrated, truth),
        "uncertain_rate": float(np.mean(calibrated.max(axis=1) < UNCERTAIN_BELOW)),
    }


def evaluate_music(
    matrices: list[np.ndarray],
    labels: list[str],
    groups: list[str],
    *,
    folds: int = 5,
    seed: int = 0,
    rows: tuple[MusicModelConfig, ...] = TABLE1_ROWS,
    overrides: dict | None = None,
    candidates: tuple[Candidate, ...] = (),
    embeddings: np.ndarray | None = None,
    progress=None,
    splits: list[Fold] | None = None,
    corpora: Sequence[str] | None = None,
) -> dict:
    """Cross-validate every row on the same folds; return the report (``report.json``).
    With ``corpora`` (each clip's corpus) every row also reports its accuracy per corpus.

    ``splits`` replaces the grouped ``folds`` (leave-one-corpus-out: :func:`corpus_folds`).

    ``overrides`` (e.g. ``{"max_epochs": 40, "batch_size": 16}``) apply to every network row.
    ``candidates`` (:mod:`models.music_candidates`) need the tracks' ``embeddings``; their
    hyper-parameters are chosen inside each training fold. The report's ``champion`` names the
    row with the best mean accuracy.
    """
    if candidates and embeddings is None:
        raise ValueError("candidate rows need the tracks' embeddings")
    y = np.array([EMOTIONS.index(e) for e in labels])
    groups_arr = np.asarray(groups)
    splits = splits or group_folds(y, groups_arr, folds, seed)
    folds = len(splits)
    stats = segment_statistics(matrices)
    configs = [row.with_(**(overrides or {})) for row in rows]
    per_fold: dict[str, list[float]] = {c.name: [] for c in configs}
    per_fold[SVM_ROW] = []
    chosen: dict[str, list[str]] = {}
    oof: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
    for candidate in candidates:
        per_fold[candidate.name] = []
        chosen[candidate.name] = []
        oof[candidate.name] = []
    kinds = {c.name: "paper" for c in configs} | {SVM_ROW: "reference"}
    kinds |= {c.name: "candidate" for c in candidates}
    method_true, method_pred = [], []
    scores = OutOfFold(y)
    for k, fold in enumerate(splits):
        for config in configs:
            model, _ = fit_music_model(
                config,
                [matrices[i] for i in fold.train],
                [labels[i] for i in fold.train],
                groups_arr[fold.train].tolist(),
                seed=seed + k,
            )
            x = pad_sequences(
                select_features([matrices[i] for i in fold.test], config), config.n_features
            )
            pred = np.asarray(model(x, training=False)).argmax(axis=1)
            per_fold[config.name].append(scores.record(config.name, fold.test, pred))
            if config.name == METHOD_MSE.name:
                method_true.append(y[fold.test])
                method_pred.append(pred)
            if progress is not None:
                progress(1)
        _, svm_pred = rbf_svm_accuracy(stats, y, fold, seed)
        per_fold[SVM_ROW].append(scores.record(SVM_ROW, fold.test, svm_pred))
        for candidate in candidates:
            x = candidate_inputs(candidate, embeddings, stats)
            train, test = fold.train, fold.test
            clf = fit_candidate(x[train], y[train], groups_arr[train], seed + k)
            raw, calibrated, temperature = calibrated_probabilities(
                clf, x[train], y[train], groups_arr[train], x[test], seed + k
            )
            per_fold[candidate.name].append(scores.record(candidate.name, test, raw.argmax(axis=1)))
            chosen[candidate.name].append(
                f"{describe_choice(clf.best_params_)} T={temperature:.2f}"
            )
            oof[candidate.name].append((test, raw, calibrated))
        logger.info("fold %d/%d done", k + 1, folds)
    report_rows = []
    for name, accs in per_fold.items():
        report_rows.append(
            {
                "name": name,
                "accuracy_mean": float(np.mean(accs)),
                "accuracy_std": float(np.std(accs)),
                "per_fold": accs,
                "paper_accuracy": PAPER_TABLE1.get(name),
                "kind": kinds[name],
                **scores.per_corpus(name, corpora),
            }
        )
        if name in chosen:
            report_rows[-1]["chosen_per_fold"] = chosen[name]
            report_rows[-1].update(calibration_summary(oof[name], y))
    report = {
        "task": "music emotion",
        "folds": folds,
        "fold_names": [fold.name for fold in splits],
        "seed": seed,
        "clips": len(labels),
        "groups": int(np.unique(groups_arr).size),
        "class_counts": {e: int(np.sum(y == i)) for i, e in enumerate(EMOTIONS)},
        "rows": report_rows,
        "champion": max(report_rows, key=lambda row: row["accuracy_mean"])["name"],
        "overrides": overrides or {},
        "emotions": list(EMOTIONS),
    }
    if method_true:
        report["confusion"] = confusion_percent(
            np.concatenate(method_true), np.concatenate(method_pred)
        )
        report["confusion_row"] = METHOD_MSE.name
        report["paper_confusion"] = PAPER_TABLE2
    return report


def cv_metrics(report: dict, row_name: str) -> dict:
    """One row of a cross-validation report as the metrics a stored model carries (what
    ``models promote`` compares)."""
    (row,) = [r for r in report["rows"] if r["name"] == row_name]
    return {
        "cv_accuracy": row["accuracy_mean"],
        "cv_folds": report["folds"],
        "cv_per_fold": row["per_fold"],
    }


#: The champion of a leave-one-corpus-out evaluation must read every held-out corpus at least
#: this well (4 classes: chance is 0.25): a model that only works inside its training corpora
#: is not served, however well it does there.
CROSS_CORPUS_FLOOR = 0.35


def choose_champion(pooled: dict, loco: dict, floor: float = CROSS_CORPUS_FLOOR) -> dict:
    """The champion rule: the best pooled grouped-CV accuracy among the rows whose accuracy on
    every held-out corpus is at least ``floor``; ``{"champion": name or None, "rule": ...}``."""
    loco_rows = {row["name"]: row for row in loco["rows"]}
    eligible = [
        row for row in pooled["rows"]
        if row["name"] in loco_rows and min(loco_rows[row["name"]]["per_fold"]) >= floor
    ]  # fmt: skip
    best = max(eligible, key=lambda row: row["accuracy_mean"], default=None)
    return {
        "champion": best["name"] if best else None,
        "rule": f"best pooled grouped-CV accuracy among rows at >= {floor:.0%} on every held-out corpus",
    }


def validation_metrics(
    run: Callable[[list[Fold] | None], dict], row_name: str, corpora: Sequence[str]
) -> dict:
    """What a trained model carries from its validation: :func:`cv_metrics` of grouped CV
    (``run(None)``), and, when its clips come from two corpora or more, the cross-corpus
    figures beside them (``run(corpus_folds(...))``): per corpus in-corpus and cross-corpus
    accuracy, and both calibrations (ECE, how often an answer is uncertain)."""
    pooled = run(None)
    metrics = cv_metrics(pooled, row_name)
    if len(set(corpora)) < 2:
        return metrics
    loco = run(corpus_folds(np.asarray(corpora)))
    table = across_corpora(pooled, loco).get(row_name)
    if table is None:
        return metrics
    metrics["cv_per_corpus"] = {c: v["in_corpus"] for c, v in table["corpora"].items()}
    metrics["cross_corpus_accuracy"] = {c: v["cross_corpus"] for c, v in table["corpora"].items()}
    metrics["cross_corpus_mean"] = table["mean_cross_corpus"]
    for key in ("ece", "uncertain_rate"):
        for where in ("pooled", "cross_corpus"):
            if f"{key}_{where}" in table:
                metrics[f"{key}_{where}"] = table[f"{key}_{where}"]
    return metrics


def write_report(report: dict, out_dir: Path) -> list[Path]:
    """Write ``report.json`` and the PNG figures (confusion heatmap, per-fold accuracy)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / "report.json"]
    written[0].write_text(json.dumps(report, indent=2))
    if "confusion" in report:
        fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
        for ax, matrix, title in (
            (axes[0], report["confusion"], f"measured ({report['confusion_row']})"),
            (axes[1], report.get("paper_confusion"), "paper, Table 2"),
        ):
            if matrix is None:
                ax.axis("off")
                continue
            ax.imshow(matrix, cmap="Blues", vmin=0, vmax=100)
            labels = report["emotions"]
            ax.set_xticks(range(len(labels)), labels)
            ax.set_yticks(range(len(labels)), labels)
            ax.set_xlabel("predicted")
            ax.set_ylabel("true")
            ax.set_title(title, fontsize=9)
            for i, row in enumerate(matrix):
                for j, value in enumerate(row):
                    ax.text(
                        j,
                        i,
                        f"{value:.1f}",
                        ha="center",
                        va="center",
                        fontsize=8,
                        color="black" if value < 60 else "white",
                    )
        fig.tight_layout()
        path = out_dir / "confusion.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    fig, ax = plt.subplots(figsize=(9, 4))
    for row in report["rows"]:
        ax.plot(
            range(1, len(row["per_fold"]) + 1),
            [100 * a for a in row["per_fold"]],
            marker="o",
            label=row["name"],
        )
    ax.set_xlabel("fold")
    ax.set_ylabel("accuracy (%)")
    ax.set_xticks(range(1, report["folds"] + 1))
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = out_dir / "per_fold_accuracy.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)
    calibrated = {row["name"]: row["reliability"] for row in report["rows"] if "reliability" in row}
    if calibrated:
        path = out_dir / "reliability.png"
        plot_reliability(calibrated, path)
        written.append(path)
    return written


def format_cv_report(report: dict) -> str:
    """A cross-validation report (``evaluate music`` or ``evaluate voice``) as a table, each row
    beside the paper's number, then the confusion matrix."""
    lines = [
        f"{report['clips']} clips, {report['groups']} groups, group-wise stratified {report['folds']}-fold CV",
        "",
        f"{'model':<70}{'measured':>16}{'paper':>8}",
    ]
    for row in report["rows"]:
        measured = f"{100 * row['accuracy_mean']:.1f} +- {100 * row['accuracy_std']:.1f}"
        paper = f"{row['paper_accuracy']:.1f}" if row.get("paper_accuracy") else "-"
        mark = "  <- champion" if row["name"] == report.get("champion") else ""
        if "ece" in row:
            mark += f"  (ECE {row['ece']:.3f}, uncalibrated {row['ece_uncalibrated']:.3f})"
        lines.append(f"{row['name']:<70}{measured:>16}{paper:>8}{mark}")
    if "confusion" in report and report.get("paper_confusion"):
        lines += ["", f"confusion (%, rows true), {report['confusion_row']}; paper in brackets:"]
        lines.append(" " * 8 + "".join(f"{e:>16}" for e in report["emotions"]))
        for e, row, paper in zip(
            report["emotions"], report["confusion"], report["paper_confusion"], strict=True
        ):
            lines.append(
                f"{e:<8}"
                + "".join(f"{v:>8.1f} [{p:>4.1f}]" for v, p in zip(row, paper, strict=True))
            )
    elif "confusion" in report:
        lines += ["", f"confusion (%, rows true), {report['confusion_row']}:"]
        lines.append(" " * 8 + "".join(f"{e:>8}" for e in report["emotions"]))
        for e, row in zip(report["emotions"], report["confusion"], strict=True):
            lines.append(f"{e:<8}" + "".join(f"{v:>8.1f}" for v in row))
    for note in report.get("notes", []):
        lines.append(f"note: {note}")
    return "\n".join(lines)
