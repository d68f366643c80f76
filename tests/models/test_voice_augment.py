"""Speed-perturbed training copies of voice clips (models.voice_augment) and the candidates
that train on them."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

import models.voice_candidates as voice_candidates
from models.exceptions import DatasetError
from models.feature_cache import file_sha256
from models.voice_augment import AugmentedFunctionalsCache, augmentation_name, speed_perturbed
from models.voice_candidates import (
    N_FUNCTIONALS,
    VOICE_CANDIDATES,
    arrival_order,
    fit_voice_candidate,
)
from tests.models.synthetic_signals import harmonic_tone

SR = 16000


def _dominant_hz(y: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(y * np.hanning(y.size)))
    return float(np.argmax(spectrum) * SR / y.size)


@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_a_copy_played_faster_is_shorter_and_higher_by_the_same_factor(factor: float) -> None:
    y = harmonic_tone(200.0, sr=SR, seconds=2.0, n_harmonics=1)
    copy = speed_perturbed(y, factor)
    assert copy.dtype == np.float32
    assert copy.size == pytest.approx(y.size / factor, abs=2)
    assert _dominant_hz(copy) == pytest.approx(200.0 * factor, abs=1.0)
    assert augmentation_name(factor) == f"speed{factor}"


def test_a_speed_factor_must_be_positive() -> None:
    with pytest.raises(ValueError, match="must be positive"):
        speed_perturbed(np.zeros(100, np.float32), 0.0)


def test_copies_functionals_are_computed_once_and_a_bad_file_is_named(tmp_path) -> None:
    y = harmonic_tone(180.0, sr=SR, seconds=1.5)
    path = tmp_path / "clip.wav"
    sf.write(path, y, SR)
    cache = AugmentedFunctionalsCache(tmp_path / "cache")
    copies = cache.functionals([path], [file_sha256(path)], (0.9, 1.1), workers=1)
    assert set(copies) == {0.9, 1.1}
    assert copies[0.9].shape == (1, N_FUNCTIONALS) and np.isfinite(copies[0.9]).all()
    assert not np.allclose(copies[0.9], copies[1.1])  # another voice: other functionals
    entries = sorted(p.name for p in cache.root.iterdir())
    assert entries == [f"{file_sha256(path)}-speed0.9.npy", f"{file_sha256(path)}-speed1.1.npy"]
    before = [p.stat().st_mtime_ns for p in cache.root.iterdir()]
    again = cache.functionals([path], [file_sha256(path)], (0.9, 1.1), workers=1)
    np.testing.assert_array_equal(again[1.1], copies[1.1])
    assert [p.stat().st_mtime_ns for p in cache.root.iterdir()] == before  # read, not redone
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF but not audio")
    with pytest.raises(DatasetError, match="bad.wav"):
        cache.functionals([bad], [file_sha256(bad)], (0.9,), workers=1)


def _toy_speakers(seed: int):
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(12), 8).astype(str)
    y = np.tile(np.arange(4), 24)
    x = rng.normal(size=(96, N_FUNCTIONALS)) + np.repeat(rng.normal(size=(12, 1)), 8, axis=0)
    x[np.arange(96), y] += 1.5
    return x, y, groups, arrival_order(groups, seed=0)


def test_a_speed_candidate_needs_its_copies() -> None:
    x, y, groups, position = _toy_speakers(0)
    candidate = VOICE_CANDIDATES["quality-listener-lr-speed"]
    assert candidate.augment == (0.9, 1.1)
    with pytest.raises(ValueError, match="speed copies"):
        fit_voice_candidate(candidate, x, y, groups, position, seed=0)


def test_copies_join_training_as_listeners_of_their_own_in_their_speaker_s_inner_fold(
    monkeypatch,
) -> None:
    from sklearn.model_selection import StratifiedGroupKFold

    x, y, groups, position = _toy_speakers(1)
    rng = np.random.default_rng(2)
    copies = {f: x + rng.normal(scale=0.1, size=x.shape) for f in (0.9, 1.1)}
    split_groups, normalised_listeners = [], []
    real_split = StratifiedGroupKFold.split

    def recording_split(self, x_, y_=None, groups=None):
        split_groups.append(np.asarray(groups))
        return real_split(self, x_, y_, groups)

    monkeypatch.setattr(StratifiedGroupKFold, "split", recording_split)
    real_normalised = voice_candidates.listener_normalised

    def recording_normalised(z, listeners, position_):
        normalised_listeners.append(np.asarray(listeners))
        return real_normalised(z, listeners, position_)

    monkeypatch.setattr(voice_candidates, "listener_normalised", recording_normalised)
    candidate = VOICE_CANDIDATES["quality-listener-lr-speed"]
    fitted = fit_voice_candidate(candidate, x, y, groups, position, seed=0, copies=copies)
    assert fitted.scaler.n_samples_seen_ == 3 * len(y)
    # Inner folds split by the source speaker only: a copy never faces its own original.
    assert all(set(g) == set(groups) and g.size == 3 * len(y) for g in split_groups)
    listeners = set(normalised_listeners[0])
    assert {"0", "0|speed0.9", "0|speed1.1"} <= listeners and len(listeners) == 36
    raw, _ = fitted.probabilities(x, groups, position)  # tests read the recordings as they are
    assert raw.shape == (96, 4)
