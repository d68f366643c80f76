"""Calibration on synthetic classifiers whose true probabilities are known."""

from __future__ import annotations

import numpy as np

from models.calibration import (
    apply_temperature,
    expected_calibration_error,
    fit_temperature,
    reliability_bins,
)


def _softmax(logits: np.ndarray) -> np.ndarray:
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def _synthetic(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """True class probabilities over 4 classes and labels drawn from them."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=1.5, size=(n, 4))
    truth = _softmax(logits)
    labels = np.array([rng.choice(4, p=p) for p in truth])
    return logits, labels


def test_a_calibrated_classifier_has_a_small_ece_and_bins_cover_every_answer() -> None:
    logits, labels = _synthetic(20000, seed=0)
    probs = _softmax(logits)
    assert expected_calibration_error(probs, labels) < 0.02
    bins = reliability_bins(probs, labels)
    assert sum(b["count"] for b in bins) == 20000
    assert all(b["low"] <= b["confidence"] <= b["high"] for b in bins)


def test_temperature_scaling_repairs_an_overconfident_classifier() -> None:
    logits, labels = _synthetic(20000, seed=1)
    overconfident = _softmax(3.0 * logits)
    fit, held_out = slice(0, 10000), slice(10000, None)
    before = expected_calibration_error(overconfident[held_out], labels[held_out])
    temperature = fit_temperature(overconfident[fit], labels[fit])
    repaired = apply_temperature(overconfident[held_out], temperature)
    after = expected_calibration_error(repaired, labels[held_out])
    assert before > 0.15
    assert 2.5 < temperature < 3.5
    assert after <= 0.05
    # Scaling never changes which class wins.
    assert np.array_equal(repaired.argmax(axis=1), overconfident[held_out].argmax(axis=1))


def test_the_out_of_fold_temperature_can_be_fitted_on_the_leading_rows_only() -> None:
    """Training copies appended after the recordings join the folds' training but not the fit
    of the temperature: their labels are noise here, so counting them would make the model look
    less sure than it should be on recordings."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, cross_val_predict

    from models.calibration import fit_temperature, out_of_fold_temperature

    rng = np.random.default_rng(4)
    n = 200
    y = rng.integers(0, 3, size=2 * n)
    x = rng.normal(size=(2 * n, 5))
    x[np.arange(n), y[:n]] += 2.0  # the recordings carry their class; the copies do not
    groups = np.concatenate([np.arange(n) % 10] * 2)
    cv = GroupKFold(n_splits=3)
    estimator = LogisticRegression(max_iter=1000)
    leading = out_of_fold_temperature(estimator, x, y, groups, cv, scored=n)
    everything = out_of_fold_temperature(estimator, x, y, groups, cv)
    probs = cross_val_predict(estimator, x, y, groups=groups, cv=cv, method="predict_proba")
    assert leading == fit_temperature(probs[:n], y[:n])
    assert everything == fit_temperature(probs, y)
    assert leading < everything  # the noisy copies would flatten the probabilities
