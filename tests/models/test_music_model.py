"""The music emotion network: masking, attention, every Table 1 row, serving without retracing."""

from __future__ import annotations

import numpy as np
import pytest

from models.exceptions import FeatureParameterError
from models.inference import MusicEmotionClassifier
from models.layers import AttentionPooling
from models.music_model import METHOD_MSE, ROWS_BY_KEY, TABLE1_ROWS, build_music_model
from models.training import pad_sequences
from schemas.emotions import EMOTIONS


def _model(config=METHOD_MSE):
    return build_music_model(
        config, mean=np.zeros(config.n_features), std=np.ones(config.n_features)
    )


def test_attention_ignores_masked_steps_and_weights_sum_to_one() -> None:
    layer = AttentionPooling(8)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, 5, 4)).astype(np.float32)
    mask = np.array([[True, True, True, False, False]])
    poisoned = x.copy()
    poisoned[0, 3:] = 1e6  # whatever sits under the mask must not leak into the output
    out_clean = np.asarray(layer(x, mask=mask))
    out_poisoned = np.asarray(layer(poisoned, mask=mask))
    np.testing.assert_allclose(out_clean, out_poisoned, rtol=1e-6)
    # A constant sequence pools to itself: the weights are a convex combination.
    constant = np.repeat(rng.normal(size=(1, 1, 4)), 5, axis=1).astype(np.float32)
    np.testing.assert_allclose(np.asarray(layer(constant)), constant[:, 0], rtol=1e-5)


@pytest.mark.parametrize("key", sorted(ROWS_BY_KEY))
def test_every_table1_row_reads_whole_tracks_of_any_length(key) -> None:
    config = ROWS_BY_KEY[key]
    model = _model(config)
    rng = np.random.default_rng(1)
    short = rng.normal(size=(3, 62)).astype(np.float32)
    long = rng.normal(size=(40, 62)).astype(np.float32)
    alone = np.asarray(model(pad_sequences([short[:, : config.n_features]], config.n_features)))
    batch = np.asarray(
        model(
            pad_sequences(
                [short[:, : config.n_features], long[:, : config.n_features]], config.n_features
            )
        )
    )
    assert batch.shape == (2, len(EMOTIONS))
    np.testing.assert_allclose(batch.sum(axis=1), 1.0, rtol=1e-5)
    # Padding the short track to the long one's length changes nothing.
    np.testing.assert_allclose(batch[0], alone[0], atol=1e-5)


def test_table1_rows_differ_in_the_paper_s_ways() -> None:
    layers = {c.name: [type(layer).__name__ for layer in _model(c).layers] for c in TABLE1_ROWS}
    baseline, lstm, att, method = (
        ROWS_BY_KEY[k] for k in ("baseline", "lstm", "att-lstm", "method")
    )
    assert _model(baseline).input_shape[-1] == 28 and _model(lstm).input_shape[-1] == 62
    assert layers[lstm.name].count("LSTM") == 1 and "AttentionPooling" not in layers[lstm.name]
    assert layers[att.name].count("LSTM") == 1 and "AttentionPooling" in layers[att.name]
    assert layers[method.name].count("LSTM") == 2 and "AttentionPooling" in layers[method.name]
    assert method.loss == "mse" and ROWS_BY_KEY["method-ce"].loss == "categorical_crossentropy"


def test_classifier_serves_any_length_without_retracing_and_survives_save(tmp_path) -> None:
    model = _model()
    path = tmp_path / "model.keras"
    model.save(path)
    classifier = MusicEmotionClassifier.load(path, version="v-test")
    rng = np.random.default_rng(2)
    tracks = [rng.normal(size=(n, 62)).astype(np.float32) for n in (1, 7, 80, 23)]
    probs = [classifier.predict(t) for t in tracks]
    assert classifier._predict.experimental_get_tracing_count() == 1
    for t, p in zip(tracks, probs, strict=True):
        assert list(p) == list(EMOTIONS) and abs(sum(p.values()) - 1.0) < 1e-5
        expected = np.asarray(model(t[None], training=False))[0]
        np.testing.assert_allclose(list(p.values()), expected, atol=1e-5)
    with pytest.raises(FeatureParameterError, match="segment matrix"):
        classifier.predict(np.zeros((10, 12), np.float32))
