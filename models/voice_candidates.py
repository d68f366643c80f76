"""Voice emotion candidates beyond the paper: clip functionals of our own HSF, and listener
normalisation that only looks at the listener's earlier clips.

A clip's functionals summarise its HSF windows (:mod:`models.features.voice`, 43 low-level
descriptors x mean/std/min/max per 515 ms window): the mean and standard deviation over the
windows of all 172 values, and the minimum and maximum over the windows of the 43 window means.
That is prosody (F0, energy, their spread and range), voice quality (periodicity, formants, band
energies) and spectral shape (MFCC), computed by our own code (no openSMILE). After those 430
come the clip's 27 voice-quality descriptors (:mod:`models.features.voice_quality`: jitter,
shimmer, HNR, formant bandwidths, spectral slope, alpha ratio, Hammarberg index, loudness and
pitch contours, rhythm); a candidate reads the first :attr:`VoiceCandidate.width` of them.

**Listener normalisation** (:func:`listener_normalised`): a listener's voice shifts every
feature; subtracting that listener's typical values removes much of it. Only clips the listener
sent *before* the current one may be used (the session table holds them in serving), so the
listener's mean is estimated from the earlier clips, shrunk towards the training mean while
there are few: ``(sum of earlier + k * 0) / (n_earlier + k)`` in standardised units. Arrival
order inside a listener is a seeded shuffle (a data set's file order sorts by emotion).

Each candidate is ``standardise -> (listener normalisation) -> a classifier``: a logistic
regression with ``C`` chosen by a grouped inner cross-validation on the training side of each
outer fold, or (``head="mlp"``) the average of three one-hidden-layer networks
(:class:`models.voice_mlp.MlpEnsemble`) whose L2 penalty the inner cross-validation chooses;
then a temperature fitted on that inner cross-validation's out-of-fold probabilities. Both heads are served as plain arrays (:class:`VoiceHead`), with no scikit-learn object.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.calibration import apply_temperature, out_of_fold_temperature
from models.features.voice import N_HSF, N_LLD
from models.features.voice_quality import N_QUALITY

__all__ = [
    "VoiceCandidate",
    "VOICE_CANDIDATES",
    "clip_functionals",
    "arrival_order",
    "listener_normalised",
    "fit_voice_candidate",
    "prepare",
    "FittedVoiceCandidate",
    "VoiceHead",
    "N_FUNCTIONALS",
    "N_HSF_FUNCTIONALS",
    "empty_history",
    "add_to_history",
]

#: Values of :func:`clip_functionals` from the HSF windows alone.
N_HSF_FUNCTIONALS = 2 * N_HSF + 2 * N_LLD
#: Values of :func:`clip_functionals`: the HSF ones, then the voice-quality descriptors.
N_FUNCTIONALS = N_HSF_FUNCTIONALS + N_QUALITY
#: Pseudo-count of the listener mean's shrinkage towards the training mean.
SHRINKAGE_CLIPS = 4.0
_C_GRID = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3)
_ALPHA_GRID = (1.0, 3.0, 10.0)
_INNER_FOLDS = 3


@dataclass(frozen=True)
class VoiceCandidate:
    """One candidate row of ``moodstream evaluate voice``."""

    key: str
    name: str
    listener_normalised: bool
    width: int = N_HSF_FUNCTIONALS
    """How many leading values of :func:`clip_functionals` it reads."""
    head: str = "lr"
    """``lr`` (logistic regression) or ``mlp`` (an average of small networks)."""
    augment: tuple[float, ...] = ()
    """Speed factors of the copies of each training clip it also trains on
    (:mod:`models.voice_augment`); none by default."""


VOICE_CANDIDATES: dict[str, VoiceCandidate] = {
    c.key: c
    for c in (
        VoiceCandidate(
            "functionals-lr", "candidate: HSF clip functionals + logistic regression", False
        ),
        VoiceCandidate(
            "functionals-listener-lr",
            "candidate: HSF clip functionals, listener-normalised on earlier clips + logistic "
            "regression",
            True,
        ),
        VoiceCandidate(
            "quality-listener-lr",
            "candidate: HSF clip functionals + voice-quality descriptors, listener-normalised on "
            "earlier clips + logistic regression",
            True,
            N_FUNCTIONALS,
        ),
        VoiceCandidate(
            "quality-listener-mlp",
            "candidate: HSF clip functionals + voice-quality descriptors, listener-normalised on "
            "earlier clips + 3 averaged one-layer networks",
            True,
            N_FUNCTIONALS,
            "mlp",
        ),
        VoiceCandidate(
            "quality-listener-lr-speed",
            "candidate: HSF clip functionals + voice-quality descriptors, listener-normalised on "
            "earlier clips + logistic regression, trained with 0.9x and 1.1x speed copies",
            True,
            N_FUNCTIONALS,
            "lr",
            (0.9, 1.1),
        ),
        VoiceCandidate(
            "quality-listener-mlp-speed",
            "candidate: HSF clip functionals + voice-quality descriptors, listener-normalised on "
            "earlier clips + 3 averaged one-layer networks, trained with 0.9x and 1.1x speed "
            "copies",
            True,
            N_FUNCTIONALS,
            "mlp",
            (0.9, 1.1),
        ),
    )
}


def clip_functionals(hsf: np.ndarray, quality: np.ndarray) -> np.ndarray:
    """One clip's :data:`N_FUNCTIONALS` values: the functionals of its HSF windows
    ``(windows, 172)`` (430), then its voice-quality descriptors ``(27,)``."""
    hsf = np.asarray(hsf, dtype=np.float64)
    means = hsf[:, :N_LLD]
    return np.concatenate([
        hsf.mean(axis=0), hsf.std(axis=0), means.min(axis=0), means.max(axis=0),
        np.asarray(quality, dtype=np.float64),
    ])  # fmt: skip


def arrival_order(groups: np.ndarray, seed: int) -> np.ndarray:
    """A seeded position of each clip in its listener's stream of clips (0 = first)."""
    rng = np.random.default_rng(seed)
    position = np.zeros(len(groups), dtype=np.int64)
    for group in np.unique(groups):
        members = np.flatnonzero(groups == group)
        position[members] = rng.permutation(members.size)
    return position


def listener_normalised(z: np.ndarray, groups: np.ndarray, position: np.ndarray) -> np.ndarray:
    """``z`` (standardised functionals) minus each listener's mean over their *earlier* clips,
    shrunk towards 0 by :data:`SHRINKAGE_CLIPS` pseudo-clips."""
    out = np.empty_like(z)
    for group in np.unique(groups):
        members = np.flatnonzero(groups == group)
        members = members[np.argsort(position[members])]
        earlier = np.cumsum(z[members], axis=0) - z[members]  # sum of the clips before each
        counts = np.arange(members.size, dtype=np.float64)[:, None]
        out[members] = z[members] - earlier / (counts + SHRINKAGE_CLIPS)
    return out


@dataclass(frozen=True)
class FittedVoiceCandidate:
    """A candidate fitted on one training side: scaler, classifier, temperature."""

    candidate: VoiceCandidate
    scaler: object
    search: object
    """The ``GridSearchCV`` (``best_params_`` says which ``C`` or ``alpha``)."""
    temperature: float

    def describe_choice(self) -> str:
        """``C=0.01`` or ``alpha=3``: what the inner cross-validation chose."""
        return " ".join(f"{k}={v:g}" for k, v in self.search.best_params_.items())

    def probabilities(self, x: np.ndarray, groups: np.ndarray, position: np.ndarray):
        """``(raw, calibrated)`` class probabilities of functionals ``x``."""
        raw = self.search.predict_proba(prepare(self.candidate, self.scaler, x, groups, position))
        return raw, apply_temperature(raw, self.temperature)


def fit_voice_candidate(
    candidate: VoiceCandidate, x: np.ndarray, y: np.ndarray, groups: np.ndarray,
    position: np.ndarray, seed: int, copies: dict[float, np.ndarray] | None = None,
) -> FittedVoiceCandidate:  # fmt: skip
    """Standardisation on ``x``, then (listener normalisation and) a logistic regression whose
    ``C`` a grouped inner 3-fold CV chose; the temperature from the same inner folds.

    ``copies`` are the functionals of speed-perturbed copies of the same clips, by factor
    (:class:`models.voice_augment.AugmentedFunctionalsCache`); the candidate trains on those of
    its :attr:`VoiceCandidate.augment` factors too, each copy set a listener of its own that
    stays in its source speaker's inner fold.

    Raises
    ------
    ValueError
        The candidate asks for copies that ``copies`` does not hold.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold
    from sklearn.preprocessing import StandardScaler

    missing = [f for f in candidate.augment if f not in (copies or {})]
    if missing:
        raise ValueError(f"{candidate.key} trains on speed copies {missing}: none were given")
    split_groups, listeners = groups, groups
    if candidate.augment:
        from models.voice_augment import augmentation_name

        x = np.concatenate([x] + [copies[f] for f in candidate.augment])
        y = np.concatenate([y] * (1 + len(candidate.augment)))
        split_groups = np.concatenate([groups] * (1 + len(candidate.augment)))
        listeners = np.concatenate(
            [groups]
            + [
                np.char.add(groups.astype(str), "|" + augmentation_name(f))
                for f in candidate.augment
            ]
        )
        position = np.concatenate([position] * (1 + len(candidate.augment)))
    x = x[:, : candidate.width]
    scaler = StandardScaler().fit(x)
    z = prepare(candidate, scaler, x, listeners, position)
    inner = StratifiedGroupKFold(n_splits=_INNER_FOLDS, shuffle=True, random_state=seed)
    if candidate.head == "mlp":
        from models.voice_mlp import MlpEnsemble

        estimator, grid = MlpEnsemble(), {"alpha": list(_ALPHA_GRID)}
    else:
        estimator, grid = LogisticRegression(max_iter=5000), {"C": list(_C_GRID)}
    search = GridSearchCV(estimator, grid, cv=inner).fit(z, y, groups=split_groups)
    # Calibrated on the recordings only: the copies would teach it their own confidence.
    temperature = out_of_fold_temperature(
        search.best_estimator_, z, y, split_groups, inner, scored=len(groups)
    )
    return FittedVoiceCandidate(candidate, scaler, search, temperature)


def prepare(
    candidate: VoiceCandidate, scaler, x: np.ndarray, groups: np.ndarray, position: np.ndarray
) -> np.ndarray:
    """What the candidate's classifier reads: its columns of ``x``, standardised (and
    listener-normalised)."""
    z = scaler.transform(x[:, : candidate.width])
    return listener_normalised(z, groups, position) if candidate.listener_normalised else z


def empty_history() -> dict:
    """A listener's voice history before any clip: how many clips, and the sum of their
    (raw) functionals. Raw, not standardised, so it outlives any one model version."""
    return {"n": 0, "sum": [0.0] * N_FUNCTIONALS}


def add_to_history(history: dict | None, functionals: np.ndarray) -> dict:
    """``history`` with one more clip's functionals."""
    history = history if valid_history(history) else empty_history()
    total = np.asarray(history["sum"], dtype=np.float64) + np.asarray(functionals, np.float64)
    return {"n": int(history["n"]) + 1, "sum": [float(v) for v in total]}


def valid_history(history: object) -> bool:
    """Whether ``history`` is a usable voice history (a stored one may predate this code)."""
    return (
        isinstance(history, dict)
        and isinstance(history.get("n"), int)
        and history["n"] >= 0
        and isinstance(history.get("sum"), list)
        and len(history["sum"]) == N_FUNCTIONALS
    )


@dataclass(frozen=True)
class VoiceHead:
    """A fitted voice candidate as plain arrays (``head.npz``): standardisation, listener
    normalisation from the listener's history, the classifier, temperature.

    The classifier is a logistic regression (``coef`` ``(4, width)``, ``intercept``) or, when
    ``hidden_weights`` is set, the average of ``k`` one-layer ReLU networks (``hidden_weights``
    ``(k, width, h)``, ``hidden_bias`` ``(k, h)``, ``coef`` ``(k, h, 4)``, ``intercept``
    ``(k, 4)``)."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    temperature: float
    listener_normalised: bool
    hidden_weights: np.ndarray | None = None
    hidden_bias: np.ndarray | None = None

    @classmethod
    def from_fitted(cls, fitted: FittedVoiceCandidate) -> VoiceHead:
        classifier = fitted.search.best_estimator_
        common = {
            "mean": np.asarray(fitted.scaler.mean_, np.float64),
            "scale": np.asarray(fitted.scaler.scale_, np.float64),
            "temperature": float(fitted.temperature),
            "listener_normalised": fitted.candidate.listener_normalised,
        }
        if hasattr(classifier, "members_"):  # models.voice_mlp.MlpEnsemble
            members = classifier.members_
            return cls(
                **common,
                hidden_weights=np.stack([m.coefs_[0] for m in members]).astype(np.float64),
                hidden_bias=np.stack([m.intercepts_[0] for m in members]).astype(np.float64),
                coef=np.stack([m.coefs_[1] for m in members]).astype(np.float64),
                intercept=np.stack([m.intercepts_[1] for m in members]).astype(np.float64),
            )
        return cls(
            **common,
            coef=np.asarray(classifier.coef_, np.float64),
            intercept=np.asarray(classifier.intercept_, np.float64),
        )

    def _raw(self, z: np.ndarray) -> np.ndarray:
        """Uncalibrated class probabilities of one prepared row ``z``."""
        if self.hidden_weights is None:
            logits = z @ self.coef.T + self.intercept
            exp = np.exp(logits - logits.max())
            return exp / exp.sum()
        hidden = np.maximum(np.einsum("d,kdh->kh", z, self.hidden_weights) + self.hidden_bias, 0)
        logits = np.einsum("kh,khc->kc", hidden, self.coef) + self.intercept
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        return (exp / exp.sum(axis=1, keepdims=True)).mean(axis=0)

    def probabilities(self, functionals: np.ndarray, history: dict | None = None) -> np.ndarray:
        """Calibrated class probabilities of one clip, given the listener's earlier clips (the
        head reads the first ``mean.size`` values of both)."""
        width = self.mean.size
        z = (np.asarray(functionals, np.float64)[:width] - self.mean) / self.scale
        if self.listener_normalised and valid_history(history) and history["n"] > 0:
            n = history["n"]
            earlier = (np.asarray(history["sum"], np.float64)[:width] - n * self.mean) / self.scale
            z = z - earlier / (n + SHRINKAGE_CLIPS)
        return apply_temperature(self._raw(z)[None, :], self.temperature)[0]

    def save(self, path) -> None:
        extra = {}
        if self.hidden_weights is not None:
            extra = {"hidden_weights": self.hidden_weights, "hidden_bias": self.hidden_bias}
        np.savez(
            path, mean=self.mean, scale=self.scale, coef=self.coef, intercept=self.intercept,
            temperature=self.temperature, listener_normalised=self.listener_normalised, **extra,
        )  # fmt: skip

    @classmethod
    def load(cls, path) -> VoiceHead:
        with np.load(path, allow_pickle=False) as data:
            return cls(
                mean=data["mean"], scale=data["scale"], coef=data["coef"],
                intercept=data["intercept"], temperature=float(data["temperature"]),
                listener_normalised=bool(data["listener_normalised"]),
                hidden_weights=data["hidden_weights"] if "hidden_weights" in data else None,
                hidden_bias=data["hidden_bias"] if "hidden_bias" in data else None,
            )  # fmt: skip
