"""Music emotion candidates beyond the paper: classifiers on the pretrained musicnn embedding.

Each candidate is a scikit-learn pipeline (standardisation, then a linear classifier) whose
regularisation strength is chosen inside the training data only, by a grouped inner
cross-validation: :func:`fit_candidate` never sees a test fold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Candidate", "CANDIDATES", "candidate_inputs", "fit_candidate"]

#: Inverse regularisation strengths searched in the inner cross-validation.
_C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0)
_INNER_FOLDS = 3


@dataclass(frozen=True)
class Candidate:
    """One candidate row of ``moodstream evaluate music``."""

    key: str
    name: str
    with_segment_statistics: bool
    """Whether the 62-dim segment statistics (mean, std) join the embedding."""


CANDIDATES: dict[str, Candidate] = {
    c.key: c
    for c in (
        Candidate(
            "embedding-lr",
            "candidate: musicnn MSD+MTT embedding + logistic regression",
            with_segment_statistics=False,
        ),
        Candidate(
            "embedding-stats-lr",
            "candidate: musicnn embedding + 62-dim statistics + logistic regression",
            with_segment_statistics=True,
        ),
    )
}


def candidate_inputs(
    candidate: Candidate, embeddings: np.ndarray, segment_stats: np.ndarray
) -> np.ndarray:
    """The feature matrix ``candidate`` is trained on."""
    if candidate.with_segment_statistics:
        return np.concatenate([embeddings, segment_stats], axis=1)
    return embeddings


def fit_candidate(x: np.ndarray, y: np.ndarray, groups: np.ndarray, seed: int):
    """A fitted classifier: logistic regression on standardised inputs, ``C`` chosen by a grouped
    inner cross-validation on ``(x, y, groups)`` (the training side of an outer fold)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    inner = StratifiedGroupKFold(n_splits=_INNER_FOLDS, shuffle=True, random_state=seed)
    search = GridSearchCV(pipeline, {"logisticregression__C": list(_C_GRID)}, cv=inner)
    search.fit(x, y, groups=groups)
    return search.best_estimator_
