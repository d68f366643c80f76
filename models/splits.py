"""Group-wise data splits and the classical reference classifier, shared by music and voice.

A group is a song or a speaker: its clips are never on both sides of a split, so scores measure
generalisation to unseen songs and speakers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "Fold",
    "MIN_VALIDATION_GROUPS",
    "group_folds",
    "corpus_folds",
    "validation_mask",
    "rbf_svm_accuracy",
]

#: Fewer groups than this and training has no validation split (early stopping then watches the
#: training loss): holding out one of three groups would leave too little to train on.
MIN_VALIDATION_GROUPS = 4


@dataclass(frozen=True)
class Fold:
    """Indices of one cross-validation fold; ``name`` says what it holds out (a corpus)."""

    train: np.ndarray
    test: np.ndarray
    name: str = ""


def group_folds(labels: np.ndarray, groups: np.ndarray, n_folds: int, seed: int) -> list[Fold]:
    """Stratified group k-fold: class balance kept per fold, each group on one side only."""
    from sklearn.model_selection import StratifiedGroupKFold

    splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    return [Fold(tr, te) for tr, te in splitter.split(np.zeros(len(labels)), labels, groups)]


def corpus_folds(corpora: np.ndarray) -> list[Fold]:
    """Leave-one-corpus-out: one fold per corpus, trained on every other corpus and tested on
    that one (in sorted order of the corpus names).

    Raises
    ------
    ValueError
        Fewer than two corpora: nothing to hold out.
    """
    corpora = np.asarray(corpora)
    names = sorted(set(corpora.tolist()))
    if len(names) < 2:
        raise ValueError(f"leave-one-corpus-out needs two corpora or more, not {names}")
    index = np.arange(corpora.size)
    return [Fold(index[corpora != name], index[corpora == name], name) for name in names]


def validation_mask(groups: np.ndarray, seed: int, fraction: float = 0.15) -> np.ndarray | None:
    """Boolean mask of the clips held out for early stopping: ``fraction`` of the groups (at
    least one), whole. ``None`` when there are fewer than :data:`MIN_VALIDATION_GROUPS` groups."""
    unique = np.unique(groups)
    if unique.size < MIN_VALIDATION_GROUPS:
        return None
    rng = np.random.default_rng(seed)
    held = rng.choice(unique, size=max(1, int(round(fraction * unique.size))), replace=False)
    return np.isin(groups, held)


def rbf_svm_accuracy(
    features: np.ndarray, y: np.ndarray, fold: Fold, seed: int
) -> tuple[float, np.ndarray]:
    """The reference rows' classifier: standardised features, RBF SVM (C=1), trained on the
    fold's training side. Returns (test accuracy, test predictions)."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    clf = make_pipeline(StandardScaler(), SVC(C=1.0, kernel="rbf", random_state=seed))
    clf.fit(features[fold.train], y[fold.train])
    pred = clf.predict(features[fold.test])
    return float(np.mean(pred == y[fold.test])), pred
