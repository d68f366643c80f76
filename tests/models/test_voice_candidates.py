"""The HSF-functionals voice candidates: functionals, and listener normalisation that only ever
looks at a listener's earlier clips."""

from __future__ import annotations

import numpy as np
import pytest

from models.features.voice import N_HSF, N_LLD
from models.features.voice_quality import N_QUALITY
from models.voice_candidates import (
    N_FUNCTIONALS,
    N_HSF_FUNCTIONALS,
    SHRINKAGE_CLIPS,
    VOICE_CANDIDATES,
    VoiceHead,
    add_to_history,
    arrival_order,
    clip_functionals,
    fit_voice_candidate,
    listener_normalised,
)


def test_functionals_summarise_the_windows_then_add_the_voice_quality() -> None:
    rng = np.random.default_rng(0)
    hsf, quality = rng.normal(size=(9, N_HSF)), rng.normal(size=N_QUALITY)
    values = clip_functionals(hsf, quality)
    assert N_HSF_FUNCTIONALS == 2 * N_HSF + 2 * N_LLD
    assert values.shape == (N_FUNCTIONALS,) == (N_HSF_FUNCTIONALS + N_QUALITY,)
    np.testing.assert_allclose(values[:N_HSF], hsf.mean(axis=0))
    np.testing.assert_allclose(values[N_HSF_FUNCTIONALS - N_LLD : N_HSF_FUNCTIONALS], hsf[:, :N_LLD].max(axis=0))  # fmt: skip
    np.testing.assert_allclose(values[N_HSF_FUNCTIONALS:], quality)


def test_normalisation_uses_only_earlier_clips_of_the_same_listener() -> None:
    rng = np.random.default_rng(1)
    z = rng.normal(size=(12, 5))
    groups = np.array(["a"] * 6 + ["b"] * 6)
    position = arrival_order(groups, seed=3)
    out = listener_normalised(z, groups, position)
    # A listener's first clip has no history: unchanged.
    first = np.flatnonzero((groups == "a") & (position == 0))[0]
    np.testing.assert_allclose(out[first], z[first])
    # The third clip of "a" is shifted by the shrunk mean of the two before it, nothing else.
    third = np.flatnonzero((groups == "a") & (position == 2))[0]
    before = np.flatnonzero((groups == "a") & (position < 2))
    np.testing.assert_allclose(out[third], z[third] - z[before].sum(axis=0) / (2 + SHRINKAGE_CLIPS))
    # Changing a later clip, or another listener's, changes nothing earlier.
    changed = z.copy()
    changed[np.flatnonzero((groups == "a") & (position == 5))[0]] += 100
    changed[groups == "b"] -= 50
    again = listener_normalised(changed, groups, position)
    earlier_a = np.flatnonzero((groups == "a") & (position < 5))
    np.testing.assert_allclose(again[earlier_a], out[earlier_a])


def test_listener_normalisation_wins_when_voices_differ_as_much_as_moods() -> None:
    """Each listener shifts every feature by about as much as a mood moves its one feature.
    On held-out listeners, normalising on their earlier clips recovers much of the mood."""
    rng = np.random.default_rng(2)
    listeners, clips = 24, 24
    groups = np.repeat(np.arange(listeners), clips).astype(str)
    y = np.tile(np.arange(4), listeners * clips // 4)
    x = rng.normal(scale=0.5, size=(groups.size, 20))
    x += np.repeat(rng.normal(scale=1.0, size=(listeners, 20)), clips, axis=0)
    x[np.arange(y.size), y] += 1.0
    position = arrival_order(groups, seed=0)
    train, test = groups.astype(int) < 16, groups.astype(int) >= 16
    scores = {}
    for key, candidate in VOICE_CANDIDATES.items():
        if candidate.head != "lr" or candidate.augment:
            continue  # the same normalisation feeds every head; the networks are slower to fit
            # (and the speed copies have a test of their own)
        fitted = fit_voice_candidate(
            candidate, x[train], y[train], groups[train], position[train], seed=0
        )
        raw, calibrated = fitted.probabilities(x[test], groups[test], position[test])
        assert np.array_equal(raw.argmax(axis=1), calibrated.argmax(axis=1))
        assert fitted.temperature > 0
        scores[key] = float(np.mean(raw.argmax(axis=1) == y[test]))
    assert scores["functionals-listener-lr"] >= 0.65
    assert scores["functionals-listener-lr"] > scores["functionals-lr"] + 0.2


@pytest.mark.parametrize(
    "key", ["functionals-listener-lr", "quality-listener-lr", "quality-listener-mlp"]
)
def test_the_served_head_with_the_listener_s_history_answers_what_evaluation_measured(
    tmp_path, key: str, monkeypatch
) -> None:
    """Serving adds each clip to the listener's history after answering; evaluation normalises
    each clip by the clips before it in its arrival order: the same numbers. (The networks are
    shrunk here, two members of 16 units and one penalty: the arithmetic is the same.)"""
    monkeypatch.setattr("models.voice_mlp.MLP_MEMBERS", 2)
    monkeypatch.setattr("models.voice_mlp.MLP_HIDDEN", 16)
    monkeypatch.setattr("models.voice_candidates._ALPHA_GRID", (3.0,))
    rng = np.random.default_rng(5)
    groups = np.repeat(np.arange(8), 12).astype(str)
    y = np.tile(np.arange(4), 24)
    x = rng.normal(size=(96, N_FUNCTIONALS)) + np.repeat(rng.normal(size=(8, 1)), 12, axis=0)
    x[np.arange(96), y] += 1.5
    position = arrival_order(groups, seed=1)
    candidate = VOICE_CANDIDATES[key]
    fitted = fit_voice_candidate(candidate, x, y, groups, position, seed=0)
    assert fitted.scaler.mean_.size == candidate.width  # reads only its leading columns
    if candidate.head == "mlp":
        assert len(fitted.search.best_estimator_.members_) == 2
    _, expected = fitted.probabilities(x, groups, position)
    VoiceHead.from_fitted(fitted).save(tmp_path / "head.npz")
    head = VoiceHead.load(tmp_path / "head.npz")
    history = {}
    for i in np.lexsort((position, groups)):  # each listener's clips in arrival order
        served = head.probabilities(x[i], history.get(groups[i]))
        np.testing.assert_allclose(served, expected[i], atol=1e-9)
        history[groups[i]] = add_to_history(history.get(groups[i]), x[i])
    assert history["0"]["n"] == 12


def test_serving_a_voice_head_imports_no_scikit_learn() -> None:
    """Clip readers and workers load the head as arrays; scikit-learn's import (seconds on a
    loaded machine) would count against the first clip's read deadline."""
    import subprocess
    import sys

    code = (
        "import sys, models.voice, models.voice_candidates\n"
        "from models.datasets.vowels import syllables\n"
        "models.voice.read_voice_clip(syllables(sr=16000), sr=16000)\n"
        "assert 'sklearn' not in sys.modules, 'scikit-learn was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
