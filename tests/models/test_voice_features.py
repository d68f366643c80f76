"""Voice model inputs: LLDs, HSF windows and spectrogram segments, aligned; the speech rule."""

from __future__ import annotations

import numpy as np
import pytest

from models.datasets.vowels import syllables
from models.exceptions import FeatureParameterError
from models.features.voice import (
    DEFAULT_VOICE_SPEC,
    LLD_NAMES,
    N_HSF,
    N_LLD,
    frame_llds,
    hsf_sequence,
    spectrogram_segments,
    speech_activity,
    voice_inputs,
)
from tests.models.synthetic_signals import band_noise, harmonic_tone, vowel

SR = DEFAULT_VOICE_SPEC.sr


def test_shapes_and_alignment() -> None:
    y = vowel((730.0, 1090.0, 2440.0), (90.0, 110.0, 160.0), f0=140.0, sr=SR, seconds=5.0)
    inputs = voice_inputs(y=y, sr=SR)
    n_frames = frame_llds(y=y, sr=SR).shape[0]
    n_windows = 1 + int(np.ceil((n_frames - 50) / 25))
    assert N_LLD == 43 and N_HSF == 172
    assert inputs.hsf.shape == (n_windows, 172)
    assert inputs.spectrogram.shape == (n_windows, 161, 50)
    assert inputs.hsf.dtype == inputs.spectrogram.dtype == np.float32
    assert np.all(np.isfinite(inputs.hsf)) and np.all(np.isfinite(inputs.spectrogram))


def test_llds_of_a_vowel() -> None:
    y = vowel((730.0, 1090.0, 2440.0), (90.0, 110.0, 160.0), f0=140.0, sr=SR, seconds=3.0)
    llds = frame_llds(y=y, sr=SR)
    f0 = llds[:, LLD_NAMES.index("f0_hz")]
    assert np.median(f0[f0 > 0]) == pytest.approx(140.0, rel=0.02)
    for name, truth in (("f1_hz", 730.0), ("f2_hz", 1090.0), ("f3_hz", 2440.0)):
        values = llds[:, LLD_NAMES.index(name)]
        assert np.median(values[values > 0]) == pytest.approx(truth, rel=0.10)


def test_hsf_columns_are_the_functionals_of_each_lld() -> None:
    rng = np.random.default_rng(0)
    llds = rng.standard_normal((120, N_LLD)).astype(np.float32)
    hsf = hsf_sequence(llds)
    assert hsf.shape == (4, 172)  # windows start at 0, 25, 50, 75
    window = llds[25:75]
    k = 5
    assert hsf[1, 4 * k : 4 * k + 4] == pytest.approx(
        [window[:, k].mean(), window[:, k].std(), window[:, k].min(), window[:, k].max()], rel=1e-5
    )


def test_undefined_f0_is_left_out_of_its_statistics() -> None:
    llds = np.zeros((50, N_LLD), dtype=np.float32)
    f0 = LLD_NAMES.index("f0_hz")
    llds[:, f0] = np.nan
    llds[10:20, f0] = 200.0
    hsf = hsf_sequence(llds)
    assert hsf[0, 4 * f0 : 4 * f0 + 4] == pytest.approx([200.0, 0.0, 200.0, 200.0])


def test_spectrogram_of_a_tone_peaks_at_its_bin() -> None:
    segments = spectrogram_segments(
        y=harmonic_tone(1000.0, sr=SR, seconds=1.0, n_harmonics=1), sr=SR
    )
    assert np.argmax(segments[0].mean(axis=1)) == 20  # 1000 Hz / 50 Hz per bin
    assert segments.min() >= DEFAULT_VOICE_SPEC.spectrogram_floor_db


def test_half_second_clip_gives_one_padded_window() -> None:
    inputs = voice_inputs(y=harmonic_tone(200.0, sr=SR, seconds=0.5), sr=SR)
    assert inputs.hsf.shape == (1, 172) and inputs.spectrogram.shape == (1, 161, 50)


def _chord(seconds: float = 3.0) -> np.ndarray:
    """Three held harmonic tones (a C major triad): pitched, continuous, nothing unvoiced."""
    y = sum(harmonic_tone(f, sr=SR, seconds=seconds) for f in (261.6, 329.6, 392.0))
    return (0.3 * y / np.max(np.abs(y))).astype(np.float32)


@pytest.mark.parametrize(
    "y, expected",
    [
        (syllables(sr=SR), True),
        ((10 ** (-30 / 20) * syllables(sr=SR, seed=1)).astype(np.float32), True),  # -50 dBFS peak
        (vowel((530.0, 1840.0, 2480.0), (80.0, 100.0, 140.0), f0=180.0, sr=SR, seconds=3.0), False),
        (_chord(), False),
        (np.zeros(3 * SR, dtype=np.float32), False),
        (band_noise(200.0, 4000.0, sr=SR, seconds=3.0), False),
        (
            (1e-4 * harmonic_tone(150.0, sr=SR, seconds=3.0)).astype(np.float32),
            False,
        ),  # -86 dBFS hum
    ],
    ids=["syllables", "quiet-syllables", "held-vowel", "chord", "silence", "noise", "inaudible"],
)
def test_speech_rule(y, expected) -> None:
    assert speech_activity(y=y, sr=SR).has_speech is expected


def test_the_rule_reports_why_a_held_note_is_not_speech() -> None:
    held = speech_activity(y=vowel((530.0, 1840.0, 2480.0), (80.0, 100.0, 140.0), f0=180.0, sr=SR, seconds=3.0), sr=SR)  # fmt: skip
    spoken = speech_activity(y=syllables(sr=SR), sr=SR)
    assert held.voiced_s > 2.5  # voiced throughout: the old voicing-only rule accepted it
    assert held.level_range_db < 3 and held.zcr_std < 0.01 and held.centroid_cv < 0.05
    assert spoken.zcr_std > DEFAULT_VOICE_SPEC.min_zcr_std
    assert spoken.centroid_cv > DEFAULT_VOICE_SPEC.min_centroid_cv


def test_quiet_frames_are_active_relative_to_the_clip() -> None:
    loud, quiet = syllables(sr=SR, seed=2), (0.01 * syllables(sr=SR, seed=2)).astype(np.float32)
    a, b = speech_activity(y=loud, sr=SR), speech_activity(y=quiet, sr=SR)
    assert b.has_speech and abs(a.voiced_s - b.voiced_s) <= 0.1  # 40 dB quieter, same voicing


def test_short_voicing_inside_silence_is_not_speech() -> None:
    y = np.zeros(3 * SR, dtype=np.float32)
    y[SR : SR + SR // 10] = syllables(sr=SR, seconds=0.1)  # < 0.2 s of voicing
    assert not speech_activity(y=y, sr=SR).has_speech


def test_wrong_rate_is_refused() -> None:
    with pytest.raises(FeatureParameterError, match="sr=22050"):
        voice_inputs(y=np.zeros(22050, dtype=np.float32), sr=22050)
