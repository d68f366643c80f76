"""The averaged small networks of the ``mlp`` voice head, fitted with scikit-learn.

Kept apart from :mod:`models.voice_candidates` so that serving, which reads the fitted networks
as plain arrays (:class:`models.voice_candidates.VoiceHead`), never imports scikit-learn.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

__all__ = ["MlpEnsemble", "MLP_MEMBERS", "MLP_HIDDEN"]

#: Networks averaged, and their hidden units.
MLP_MEMBERS = 3
MLP_HIDDEN = 128


class MlpEnsemble(ClassifierMixin, BaseEstimator):
    """:data:`MLP_MEMBERS` scikit-learn ``MLPClassifier`` (one ReLU layer of
    :data:`MLP_HIDDEN`, L2 penalty ``alpha``, seeds 0..) whose probabilities are averaged; a
    scikit-learn estimator, so a ``GridSearchCV`` can choose ``alpha``."""

    def __init__(self, alpha: float = 3.0) -> None:
        self.alpha = alpha

    def fit(self, x: np.ndarray, y: np.ndarray) -> MlpEnsemble:
        from sklearn.neural_network import MLPClassifier

        self.members_ = [
            MLPClassifier(
                hidden_layer_sizes=(MLP_HIDDEN,), alpha=self.alpha, max_iter=500, random_state=seed
            ).fit(x, y)
            for seed in range(MLP_MEMBERS)
        ]
        self.classes_ = self.members_[0].classes_
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return np.mean([m.predict_proba(x) for m in self.members_], axis=0)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.classes_[self.predict_proba(x).argmax(axis=1)]
