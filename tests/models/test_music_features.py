"""The 62-dim segment features against signals whose truth is known."""

from __future__ import annotations

import numpy as np
import pytest

from models.audio import load_audio
from models.exceptions import FeatureParameterError
from models.features.music import (
    DEFAULT_SPEC,
    FEATURE_GROUPS,
    MusicFeatureSpec,
    group_columns,
    mfcc_segment_features,
    n_segments_for,
    segment_features,
)
from tests.models.synthetic_signals import band_noise, click_track, encode, harmonic_tone, vowel

SR = DEFAULT_SPEC.sr
PITCH = slice(28, 36)
FORMANT = slice(36, 48)
BAND = slice(48, 56)
RHYTHM = slice(56, 62)


def test_layout_is_62_columns_in_paper_order() -> None:
    assert [name for name, _ in FEATURE_GROUPS] == [
        "mfcc",
        "mfcc_delta",
        "pitch",
        "formant",
        "band_energy",
        "rhythm",
    ]
    features = segment_features(y=harmonic_tone(220.0), sr=SR)
    assert features.shape == (2, 62) and features.dtype == np.float32


def test_group_columns_name_the_paper_layout() -> None:
    assert group_columns("mfcc") == slice(0, 14)
    assert group_columns("pitch") == PITCH
    assert group_columns("formant") == FORMANT
    assert group_columns("rhythm") == RHYTHM
    with pytest.raises(FeatureParameterError, match="no feature group 'tempo'"):
        group_columns("tempo")


@pytest.mark.parametrize("f0", [82.4, 110.0, 220.0, 261.6, 440.0, 880.0])
def test_pitch_statistics_within_2_percent(f0: float) -> None:
    pitch = segment_features(y=harmonic_tone(f0), sr=SR)[:, PITCH]
    f_max, f_min, f_mean, f_range, f_std, f_median, f_q75, f_q25 = pitch[0]
    for value in (f_max, f_min, f_mean, f_median, f_q75, f_q25):
        assert value == pytest.approx(f0, rel=0.02)
    assert f_range == pytest.approx(f_max - f_min, abs=1e-3) and f_std < 0.02 * f0


@pytest.mark.parametrize(
    "formants, bandwidths",
    [
        ((730.0, 1090.0, 2440.0), (90.0, 110.0, 160.0)),  # /a/
        ((270.0, 2290.0, 3010.0), (60.0, 100.0, 120.0)),  # /i/
        ((300.0, 870.0, 2240.0), (60.0, 90.0, 120.0)),  # /u/
        ((530.0, 1840.0, 2480.0), (80.0, 100.0, 140.0)),  # /e/
    ],
)
def test_formant_means_within_10_percent(formants, bandwidths) -> None:
    cols = segment_features(y=vowel(formants, bandwidths), sr=SR)[0, FORMANT].reshape(3, 4)
    for k, truth in enumerate(formants):
        mean, std, median, bandwidth = cols[k]
        assert mean == pytest.approx(truth, rel=0.10), f"F{k + 1}"
        assert median == pytest.approx(truth, rel=0.10) and 0 < bandwidth < 400


@pytest.mark.parametrize("bpm", [60.0, 90.0, 120.0, 150.0, 200.0])
def test_click_track_dominant_beat_period_within_3_percent(bpm: float) -> None:
    rhythm = segment_features(y=click_track(bpm), sr=SR)[:, RHYTHM]
    period = 60.0 / bpm
    assert np.median(rhythm[:, 1]) == pytest.approx(period, rel=0.03)
    assert np.all(rhythm[:, 0] > 0.3)  # a strong first peak
    assert np.all((0 <= rhythm[:, 4]) & (rhythm[:, 4] <= 1))


@pytest.mark.parametrize("band", range(8))
def test_band_limited_noise_lands_in_its_500hz_band(band: int) -> None:
    low, high = 500.0 * band + 60.0, 500.0 * (band + 1) - 60.0
    energies = segment_features(y=band_noise(max(low, 40.0), high), sr=SR)[:, BAND]
    assert np.all(np.argmax(energies, axis=1) == band)
    assert np.all(energies[:, band] - np.delete(energies, band, axis=1).max(axis=1) > 6.0)  # dB


def test_silence_is_finite_and_documented() -> None:
    features = segment_features(y=np.zeros(int(SR * 4.5), dtype=np.float32), sr=SR)
    assert features.shape == (2, 62) and np.all(np.isfinite(features))
    assert (
        np.all(features[:, PITCH] == 0)
        and np.all(features[:, FORMANT] == 0)
        and np.all(features[:, RHYTHM] == 0)
    )
    assert np.allclose(features[:, BAND], 10 * np.log10(1e-10), atol=0.01)


def test_half_second_clip_gives_one_finite_segment() -> None:
    features = segment_features(y=harmonic_tone(330.0, seconds=0.5), sr=SR)
    assert features.shape == (1, 62) and np.all(np.isfinite(features))
    assert features[0, 30] == pytest.approx(330.0, rel=0.02)


def test_dc_offset_and_clipping_do_not_break_features() -> None:
    tone = harmonic_tone(196.0)
    shifted = segment_features(y=np.clip(tone + 0.4, -1, 1).astype(np.float32), sr=SR)
    clipped = segment_features(y=np.clip(tone * 8, -1, 1).astype(np.float32), sr=SR)
    clean = segment_features(y=tone, sr=SR)
    for features in (shifted, clipped):
        assert np.all(np.isfinite(features))
        assert features[0, 30] == pytest.approx(196.0, rel=0.02)
    assert shifted[0, 30] == pytest.approx(clean[0, 30], rel=0.001)


@pytest.mark.parametrize(
    "seconds, expected",
    [(0.5, 1), (2.9, 1), (3.0, 1), (4.4, 1), (4.5, 2), (6.0, 2), (7.6, 3), (240.0, 80)],
)
def test_final_partial_segment_rule(seconds: float, expected: int) -> None:
    assert n_segments_for(int(round(seconds * SR))) == expected


def test_baseline_is_the_mfcc_columns() -> None:
    y = vowel((730.0, 1090.0, 2440.0), (90.0, 110.0, 160.0))
    assert np.allclose(
        mfcc_segment_features(y=y, sr=SR), segment_features(y=y, sr=SR)[:, :28], atol=1e-5
    )


def test_decoded_file_matches_array() -> None:
    y = (0.5 * harmonic_tone(440.0) + 0.5 * click_track(120.0, seconds=6.0)).astype(np.float32)
    decoded = load_audio(encode(y, SR, "FLAC", "PCM_24"), sr=SR)
    assert np.allclose(
        segment_features(y=decoded, sr=SR), segment_features(y=y, sr=SR), rtol=1e-3, atol=1e-2
    )


def test_spec_version_changes_with_any_choice() -> None:
    assert DEFAULT_SPEC.version.startswith("music62-")
    assert MusicFeatureSpec(lpc_order=12).version != DEFAULT_SPEC.version
    assert MusicFeatureSpec(revision=DEFAULT_SPEC.revision + 1).version != DEFAULT_SPEC.version
    assert MusicFeatureSpec().version == DEFAULT_SPEC.version


@pytest.mark.parametrize(
    "y, sr, match",
    [
        (np.zeros(100, dtype=np.float32), 16000, "sr=16000"),
        (np.zeros((2, 100), dtype=np.float32), SR, "mono"),
        (np.array([], dtype=np.float32), SR, "empty"),
        (np.array([0.0, np.nan] * 100, dtype=np.float32), SR, "NaN"),
        (np.zeros(100, dtype=np.int16), SR, "floating"),
    ],
)
def test_bad_input_names_the_problem(y, sr, match) -> None:
    with pytest.raises(FeatureParameterError, match=match):
        segment_features(y=y, sr=sr)
