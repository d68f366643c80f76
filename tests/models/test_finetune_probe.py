"""The fine-tuning probe's network (models.finetune_probe): the pretrained back end kept or
trained, and attention pooling that ignores padding."""

from __future__ import annotations

import numpy as np
import pytest

from models.finetune_probe import build_network


def _weights(seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [
        {
            "dense_kernel": rng.normal(scale=0.03, size=(1506, 200)).astype(np.float32),
            "dense_bias": np.zeros(200, np.float32),
            "bn_out_scale": np.ones(200, np.float32),
            "bn_out_shift": np.zeros(200, np.float32),
        }
        for _ in range(2)
    ]


def _batch(rng, n: int = 6, patches: int = 5):
    x = rng.normal(size=(n, patches, 2 * 1506)).astype(np.float32)
    return x, np.ones((n, patches), np.float32), rng.normal(size=(n, 62)).astype(np.float32)


@pytest.mark.parametrize("trainable", [False, True])
def test_the_pretrained_dense_layers_start_from_the_checkpoint_and_train_only_when_asked(
    trainable: bool,
) -> None:
    weights = _weights(0)
    model = build_network(weights, trainable=trainable, n_stats=62)
    dense = [layer for layer in model.layers if getattr(layer, "units", None) == 200]
    assert len(dense) == 2
    np.testing.assert_array_equal(dense[0].get_weights()[0], weights[0]["dense_kernel"])
    rng = np.random.default_rng(1)
    x, mask, stats = _batch(rng)
    y = np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=6)]
    for _ in range(3):
        model.train_on_batch([x, mask, stats], y)
    moved = not np.allclose(dense[1].get_weights()[0], weights[1]["dense_kernel"])
    assert moved is trainable


def test_padded_patches_do_not_change_a_track_s_answer() -> None:
    model = build_network(_weights(2), trainable=False, n_stats=62)
    rng = np.random.default_rng(3)
    x, mask, stats = _batch(rng, n=2, patches=4)
    padded = np.concatenate([x, rng.normal(size=(2, 3, 2 * 1506)).astype(np.float32)], axis=1)
    padded_mask = np.concatenate([mask, np.zeros((2, 3), np.float32)], axis=1)
    plain = model.predict([x, mask, stats], verbose=0)
    with_padding = model.predict([padded, padded_mask, stats], verbose=0)
    np.testing.assert_allclose(plain, with_padding, atol=1e-5)
    assert np.allclose(plain.sum(axis=1), 1.0)


def test_probe_accuracy_is_given_pooled_and_per_corpus() -> None:
    from models.probe_cli import accuracy_by_corpus

    correct = np.array([True, False, True, True, False])
    corpora = np.array(["emopia", "emopia", "q4_dev", "q4_dev", "q4_dev"])
    assert accuracy_by_corpus(correct, corpora) == {
        "pooled": 0.6,
        "emopia": 0.5,
        "q4_dev": pytest.approx(2 / 3),
    }
