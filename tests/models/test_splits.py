"""Group-wise splits and the reference SVM shared by the music and voice evaluations."""

from __future__ import annotations

import numpy as np

from models.splits import (
    MIN_VALIDATION_GROUPS,
    Fold,
    group_folds,
    rbf_svm_accuracy,
    validation_mask,
)


def test_validation_holds_out_whole_groups_and_needs_enough_of_them() -> None:
    few = np.repeat([f"s{i}" for i in range(MIN_VALIDATION_GROUPS - 1)], 5)
    assert validation_mask(few, seed=0) is None
    groups = np.repeat([f"s{i}" for i in range(20)], 5)
    mask = validation_mask(groups, seed=0)
    held = set(groups[mask])
    assert len(held) == 3  # 15 % of 20 groups
    assert not held & set(groups[~mask])  # no group on both sides
    assert np.array_equal(mask, validation_mask(groups, seed=0))  # seeded


def test_group_folds_keep_each_group_on_one_side_and_cover_every_clip() -> None:
    groups = np.repeat([f"g{i}" for i in range(12)], 3)
    labels = np.tile([0, 1, 2, 3], 9)
    folds = group_folds(labels, groups, n_folds=3, seed=1)
    assert sorted(np.concatenate([f.test for f in folds]).tolist()) == list(range(36))
    for fold in folds:
        assert not set(groups[fold.train]) & set(groups[fold.test])


def test_the_reference_svm_learns_separable_classes() -> None:
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2, 3], 20)
    features = rng.normal(size=(80, 6)) + 4.0 * np.eye(4, 6)[y]
    order = rng.permutation(80)
    fold = Fold(train=order[:60], test=order[60:])
    accuracy, pred = rbf_svm_accuracy(features, y, fold, seed=0)
    assert accuracy >= 0.9 and pred.shape == (20,)
