"""A served embedding candidate: the fitted linear head, stored as plain arrays (no pickle).

:func:`models.music_candidates.fit_candidate` chooses embedding parts and a regularisation
strength and fits ``select columns -> standardise -> multinomial logistic regression``. That
pipeline is exactly a column selection, an affine map and a softmax, so the registry stores the
arrays (``head.npz``) and serving recomputes the probabilities with numpy: no scikit-learn
pickle to trust or to keep version-compatible. The temperature fitted on out-of-fold
predictions of the training data (:func:`models.calibration.fit_temperature`) travels with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.exceptions import FeatureParameterError, ModelsError
from schemas.emotions import EMOTIONS

__all__ = ["LinearHead"]


@dataclass(frozen=True)
class LinearHead:
    """``softmax(((x[:, columns] - mean) / scale) @ coef.T + intercept) ** (1 / T)``, renormalised."""

    columns: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    temperature: float
    n_inputs: int
    """Width of the input rows (embedding, then any segment statistics)."""

    @classmethod
    def from_pipeline(cls, pipeline, n_inputs: int, temperature: float = 1.0) -> LinearHead:
        """The arrays of a fitted ``FunctionTransformer -> StandardScaler -> LogisticRegression``
        pipeline whose transformer selects columns with ``_select_parts``."""
        from models.music_candidates import selected_columns

        transformer, scaler, regression = (step for _, step in pipeline.steps)
        if list(regression.classes_) != list(range(len(EMOTIONS))):
            raise ModelsError(
                f"the head was trained on classes {list(regression.classes_)}; every one of "
                f"{len(EMOTIONS)} emotions must have training examples"
            )
        columns = selected_columns(transformer.kw_args["parts"], n_inputs)
        return cls(
            columns=columns.astype(np.int64),
            mean=np.asarray(scaler.mean_, dtype=np.float64),
            scale=np.asarray(scaler.scale_, dtype=np.float64),
            coef=np.asarray(regression.coef_, dtype=np.float64),
            intercept=np.asarray(regression.intercept_, dtype=np.float64),
            temperature=float(temperature),
            n_inputs=int(n_inputs),
        )

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """Calibrated class probabilities ``(n, 4)`` in :data:`EMOTIONS` order."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        if x.shape[1] != self.n_inputs:
            raise FeatureParameterError(
                f"the head takes rows of {self.n_inputs} values, got {x.shape[1]}"
            )
        logits = ((x[:, self.columns] - self.mean) / self.scale) @ self.coef.T + self.intercept
        logits = logits / self.temperature
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def save(self, path: Path) -> None:
        np.savez(
            path, columns=self.columns, mean=self.mean, scale=self.scale, coef=self.coef,
            intercept=self.intercept, temperature=self.temperature, n_inputs=self.n_inputs,
        )  # fmt: skip

    @classmethod
    def load(cls, path: Path) -> LinearHead:
        with np.load(path, allow_pickle=False) as data:
            return cls(
                columns=data["columns"], mean=data["mean"], scale=data["scale"],
                coef=data["coef"], intercept=data["intercept"],
                temperature=float(data["temperature"]), n_inputs=int(data["n_inputs"]),
            )  # fmt: skip
