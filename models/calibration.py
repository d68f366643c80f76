"""Honest confidence: expected calibration error, temperature scaling, reliability diagrams.

A classifier is calibrated when, of the answers it gives with confidence p, a fraction p is
right. :func:`expected_calibration_error` measures the gap on the top class (equal-width bins,
weighted by how many answers fall in each). :func:`fit_temperature` finds the one temperature
``T`` that, applied to the log-probabilities (``softmax(log p / T)``), minimises the negative
log-likelihood of held-out answers; it never changes which class wins.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = [
    "expected_calibration_error",
    "reliability_bins",
    "fit_temperature",
    "out_of_fold_temperature",
    "apply_temperature",
    "plot_reliability",
]

_EPS = 1e-12


def reliability_bins(probs: np.ndarray, y: np.ndarray, bins: int = 10) -> list[dict]:
    """Per confidence bin of the top class: answers, mean confidence, accuracy (empty bins left
    out)."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    rows = []
    for b in range(bins):
        members = index == b
        if members.any():
            rows.append(
                {
                    "low": float(edges[b]),
                    "high": float(edges[b + 1]),
                    "count": int(members.sum()),
                    "confidence": float(confidence[members].mean()),
                    "accuracy": float(correct[members].mean()),
                }
            )
    return rows


def expected_calibration_error(probs: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """Top-label ECE: sum over bins of (share of answers) x |accuracy - mean confidence|."""
    total = len(y)
    return float(
        sum(
            r["count"] / total * abs(r["accuracy"] - r["confidence"])
            for r in reliability_bins(probs, y, bins)
        )
    )


def apply_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log(probs) / temperature)``, row by row."""
    logits = np.log(np.clip(probs, _EPS, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


def fit_temperature(probs: np.ndarray, y: np.ndarray) -> float:
    """The temperature in [0.05, 20] that minimises the NLL of ``y`` under ``probs``."""
    from scipy.optimize import minimize_scalar

    def nll(log_t: float) -> float:
        scaled = apply_temperature(probs, float(np.exp(log_t)))
        return float(-np.mean(np.log(np.clip(scaled[np.arange(len(y)), y], _EPS, 1.0))))

    result = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(result.x))


def out_of_fold_temperature(
    estimator, x: np.ndarray, y: np.ndarray, groups: np.ndarray, cv, scored: int | None = None
) -> float:
    """The temperature fitted on out-of-fold probabilities of ``estimator`` (an unfitted
    scikit-learn classifier, refitted per fold of ``cv``, grouped by ``groups``) on ``(x, y)``:
    how a classifier trained on that data is calibrated without ever seeing a test fold.
    With ``scored``, only the first ``scored`` rows are fitted on (the recordings as they are,
    when augmented copies follow them)."""
    from sklearn.base import clone
    from sklearn.model_selection import cross_val_predict

    probs = cross_val_predict(clone(estimator), x, y, groups=groups, cv=cv, method="predict_proba")
    return fit_temperature(probs[:scored], y[:scored])


def plot_reliability(bins_by_row: dict[str, list[dict]], path: Path) -> None:
    """A reliability diagram (accuracy against confidence per bin) of each named row."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.8, 4.4))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="calibrated")
    for name, rows in bins_by_row.items():
        ax.plot(
            [r["confidence"] for r in rows],
            [r["accuracy"] for r in rows],
            marker="o",
            label=name[:48],
        )
    ax.set_xlabel("confidence of the top class")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
