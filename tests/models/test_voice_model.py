"""The voice emotion network and its serving path: masking, the speech rule, typed errors."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from models.datasets.vowels import syllables
from models.exceptions import AudioDecodeError, AudioTooLongError, AudioTooShortError
from models.voice import VoiceEmotionClassifier, VoiceSample, pad_voice_batch
from models.voice_model import TABLE3_ROWS, VOICE_METHOD, VOICE_ROWS_BY_KEY, build_voice_model


def _model(config=VOICE_METHOD):
    return build_voice_model(
        config, hsf_mean=np.zeros(172), hsf_std=np.ones(172), spec_mean=-60.0, spec_std=20.0
    )


@pytest.fixture(scope="module")
def classifier():
    return VoiceEmotionClassifier(_model(), version="v-test")


def _sample(rng, windows: int) -> VoiceSample:
    return VoiceSample(
        rng.normal(size=(windows, 172)).astype(np.float32),
        rng.normal(-60, 20, size=(windows, 161, 50)).astype(np.float32),
    )


@pytest.mark.parametrize("key", sorted(VOICE_ROWS_BY_KEY))
def test_padding_windows_changes_nothing(key) -> None:
    model = _model(VOICE_ROWS_BY_KEY[key])
    rng = np.random.default_rng(0)
    short, long = _sample(rng, 3), _sample(rng, 11)
    alone = np.asarray(model(pad_voice_batch([short]), training=False))
    batch = np.asarray(model(pad_voice_batch([short, long]), training=False))
    np.testing.assert_allclose(batch[0], alone[0], atol=1e-5)
    np.testing.assert_allclose(batch.sum(axis=1), 1.0, rtol=1e-5)


def test_table3_rows_differ_in_the_paper_s_ways() -> None:
    names = {c.name: {layer.name for layer in _model(c).layers} for c in TABLE3_ROWS}
    crnn, plain, method = (names[c.name] for c in TABLE3_ROWS)
    assert "hsf_lstm" not in crnn and "crnn_attention" not in crnn
    assert "hsf_lstm" in plain and "crnn_attention" not in plain and "hsf_attention" not in plain
    assert {"hsf_lstm", "hsf_attention", "crnn_attention"} <= method
    encoder = _model().get_layer("crnn").encoder
    assert encoder.output_shape[-1] == 384  # max, min, mean of 128 LSTM units


def test_per_segment_encoding_equals_time_distributed_and_survives_saving(tmp_path) -> None:
    import keras

    model = _model()
    encoder = model.get_layer("crnn").encoder
    rng = np.random.default_rng(3)
    segments = rng.normal(-60, 20, size=(2, 5, 161, 50)).astype(np.float32)
    folded = np.asarray(model.get_layer("crnn")(segments))
    mapped = np.asarray(keras.layers.TimeDistributed(encoder)(segments))
    assert folded.shape == (2, 5, 384)
    np.testing.assert_allclose(folded, mapped, atol=1e-5)
    model.save(tmp_path / "voice.keras")
    loaded = VoiceEmotionClassifier.load(tmp_path / "voice.keras")
    batch = [_sample(rng, 4), _sample(rng, 7)]
    np.testing.assert_allclose(
        loaded.predict_samples(batch), np.asarray(model(pad_voice_batch(batch))), atol=1e-6
    )


def test_the_served_probabilities_carry_the_stored_temperature() -> None:
    from models.calibration import apply_temperature

    model = _model()
    batch = [_sample(np.random.default_rng(4), 6)]
    raw = np.asarray(model(pad_voice_batch(batch), training=False))
    scaled = VoiceEmotionClassifier(model, temperature=2.0).predict_samples(batch)
    np.testing.assert_allclose(scaled, apply_temperature(raw, 2.0), atol=1e-6)
    assert scaled.max() < raw.max()  # a temperature above 1 softens the answer


def _wav(y: np.ndarray, sr: int) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, y, sr, format="WAV")
    return buf.getvalue()


def test_silence_and_steady_noise_get_no_speech(classifier) -> None:
    rng = np.random.default_rng(1)
    silence = np.zeros(16000 * 2, np.float32)
    noise = (0.1 * rng.standard_normal(16000 * 2)).astype(np.float32)
    for y in (silence, noise):
        answer = classifier.classify(_wav(y, 16000))
        assert not answer.has_speech and answer.emotion is None and answer.probabilities == {}


def test_voiced_stereo_clip_at_any_rate_gets_an_emotion(classifier) -> None:
    speech = syllables(seconds=2.0, sr=44100)
    stereo = np.stack([speech, 0.5 * speech], axis=1)
    answer = classifier.classify(_wav(stereo, 44100))
    assert answer.has_speech and answer.emotion in answer.probabilities
    assert abs(sum(answer.probabilities.values()) - 1.0) < 1e-5
    assert answer.duration_s == pytest.approx(2.0, abs=0.01)
    classifier.classify(syllables(seconds=4.3, sr=16000), sr=16000)
    assert classifier._predict.experimental_get_tracing_count() == 1


def test_bad_clips_raise_typed_errors(classifier) -> None:
    with pytest.raises(AudioTooShortError, match="at least 0.5 s"):
        classifier.classify(_wav(np.zeros(3000, np.float32), 16000))
    with pytest.raises(AudioTooLongError, match="30"):
        classifier.classify(_wav(np.zeros(16000 * 31, np.float32), 16000))
    with pytest.raises(AudioDecodeError):
        classifier.classify(b"RIFF\x00\x00garbage")
    with pytest.raises(AudioDecodeError):
        classifier.classify(b"")
