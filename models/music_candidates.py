"""Music emotion candidates beyond the paper: classifiers on the pretrained musicnn embedding.

Each candidate is a scikit-learn pipeline: the parts of the embedding to use, standardisation,
a logistic regression. Which parts (tag probabilities, penultimate means, both, or everything)
and the regularisation strength are chosen inside the training data only, by a grouped inner
cross-validation: :func:`fit_candidate` never sees a test fold. Extra columns beyond the
embedding (the 62-dim segment statistics of the fused candidate) are always kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.calibration import apply_temperature, out_of_fold_temperature
from models.music_embedding import EMBEDDING_SIZE, embedding_columns

__all__ = [
    "Candidate",
    "CANDIDATES",
    "candidate_inputs",
    "candidate_temperature",
    "describe_choice",
    "selected_columns",
    "fit_candidate",
    "calibrated_probabilities",
]

#: Inverse regularisation strengths searched in the inner cross-validation.
_C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0)
#: Embedding parts searched in the inner cross-validation.
_PART_GRID = (
    ("tags",),
    ("penultimate_mean",),
    ("penultimate_mean", "tags"),
    ("penultimate_mean", "penultimate_std", "tags"),
)
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
            "candidate: musicnn embedding + logistic regression",
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


def selected_columns(parts: tuple[str, ...], n_inputs: int) -> np.ndarray:
    """Columns of an input row of ``n_inputs`` values a candidate uses: the named embedding
    parts, then every column after the embedding (the segment statistics, if any)."""
    return np.concatenate([embedding_columns(parts), np.arange(EMBEDDING_SIZE, n_inputs)])


def _select_parts(x: np.ndarray, parts: tuple[str, ...]) -> np.ndarray:
    return x[:, selected_columns(parts, x.shape[1])]


def fit_candidate(x: np.ndarray, y: np.ndarray, groups: np.ndarray, seed: int):
    """A fitted classifier on ``x`` (embedding columns first): the embedding parts and ``C``
    chosen by a grouped inner cross-validation on ``(x, y, groups)``, the training side of an
    outer fold; then refitted on all of it. ``best_params_`` says what was chosen."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    pipeline = make_pipeline(
        FunctionTransformer(_select_parts, kw_args={"parts": _PART_GRID[-1]}),
        StandardScaler(),
        LogisticRegression(max_iter=5000),
    )
    grid = {
        "functiontransformer__kw_args": [{"parts": parts} for parts in _PART_GRID],
        "logisticregression__C": list(_C_GRID),
    }
    inner = StratifiedGroupKFold(n_splits=_INNER_FOLDS, shuffle=True, random_state=seed)
    return GridSearchCV(pipeline, grid, cv=inner).fit(x, y, groups=groups)


def describe_choice(params: dict) -> str:
    """``parts=tags C=0.03``: what the inner cross-validation of :func:`fit_candidate` chose."""
    parts = params["functiontransformer__kw_args"]["parts"]
    return f"parts={'+'.join(parts)} C={params['logisticregression__C']:g}"


def calibrated_probabilities(
    search, x_train: np.ndarray, y_train: np.ndarray, groups_train: np.ndarray,
    x_test: np.ndarray, seed: int,
) -> tuple[np.ndarray, np.ndarray, float]:  # fmt: skip
    """Test probabilities of a fitted candidate, raw and temperature-scaled, and the temperature.

    The temperature is fitted on out-of-fold probabilities of the training side (grouped inner
    folds, the chosen hyper-parameters refitted per inner fold), so the test fold never tunes it.
    """
    temperature = candidate_temperature(search, x_train, y_train, groups_train, seed)
    raw = search.predict_proba(x_test)
    return raw, apply_temperature(raw, temperature), temperature


def candidate_temperature(
    search, x: np.ndarray, y: np.ndarray, groups: np.ndarray, seed: int
) -> float:
    """The temperature that calibrates a fitted candidate, fitted on out-of-fold probabilities
    of its own training data (grouped inner folds, the chosen hyper-parameters refitted per
    inner fold)."""
    from sklearn.model_selection import StratifiedGroupKFold

    inner = StratifiedGroupKFold(n_splits=_INNER_FOLDS, shuffle=True, random_state=seed)
    return out_of_fold_temperature(search.best_estimator_, x, y, groups, inner)
