"""The musicnn port (musicnn and VGG taggers): the same outputs as the wheel's own TF1 graph,
patches, and the log-mel."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from models.musicnn import (
    MUSICNN_MODELS,
    MUSICNN_SR,
    PATCH_FRAMES,
    VGG_MODELS,
    Musicnn,
    MusicnnUnavailableError,
    checkpoint_prefix,
    musicnn_log_mel,
    musicnn_patches,
)
from tests.models.synthetic_signals import band_noise, click_track, harmonic_tone

ROOT = Path(__file__).resolve().parents[2]
EMOPIA = ROOT.parent / "shared" / "data" / "emopia" / "audio"

try:
    checkpoint_prefix("MSD_musicnn")
    MISSING = None
except MusicnnUnavailableError as exc:
    MISSING = str(exc)
needs_musicnn = pytest.mark.skipif(MISSING is not None, reason=f"{MISSING}")


def _reference(models: tuple[str, ...], patches: np.ndarray, tmp_path: Path) -> dict:
    """musicnn's own graphs (tf.compat.v1 layers, graph mode) in one child process."""
    np.save(tmp_path / "patches.npy", patches)
    subprocess.run(
        [sys.executable, "-m", "tests.models.musicnn_reference", ",".join(models),
         str(tmp_path / "patches.npy"), str(tmp_path / "ref.npz")],
        check=True, cwd=ROOT, env={**os.environ, "TF_USE_LEGACY_KERAS": "1"},
        capture_output=True, timeout=300,
    )  # fmt: skip
    return dict(np.load(tmp_path / "ref.npz"))


def _assert_port_equals_reference(patches: np.ndarray, tmp_path: Path) -> None:
    reference = _reference(MUSICNN_MODELS + VGG_MODELS, patches, tmp_path)
    for model in MUSICNN_MODELS + VGG_MODELS:
        ours = Musicnn(model)(patches)
        width = 256 if model in VGG_MODELS else 200
        assert ours.penultimate.shape == (len(patches), width)
        assert ours.tags.shape == (len(patches), 50)
        np.testing.assert_allclose(ours.penultimate, reference[f"{model}/penultimate"], atol=1e-4)
        np.testing.assert_allclose(ours.tags, reference[f"{model}/tags"], atol=1e-4)
        # Each patch has its own embedding (musicnn's extractor repeats the first patch's).
        assert not np.allclose(ours.penultimate[0], ours.penultimate[-1])


@needs_musicnn
@pytest.mark.slow
def test_the_port_equals_musicnn_s_own_graph_on_synthetic_music(tmp_path) -> None:
    sr = MUSICNN_SR
    signals = [
        harmonic_tone(220.0, sr=sr, seconds=7.0),
        click_track(132.0, sr=sr, seconds=7.0),
        band_noise(300.0, 3000.0, sr=sr, seconds=7.0),
    ]
    patches = np.concatenate([musicnn_patches(musicnn_log_mel(y)) for y in signals])
    _assert_port_equals_reference(patches, tmp_path)


@needs_musicnn
@pytest.mark.slow
@pytest.mark.data
@pytest.mark.skipif(not EMOPIA.is_dir(), reason=f"real clips not found: {EMOPIA} is absent")
def test_the_port_equals_musicnn_s_own_graph_on_real_clips(tmp_path) -> None:
    from models.audio import load_audio

    clips = sorted(EMOPIA.iterdir())[:: max(1, len(list(EMOPIA.iterdir())) // 4)][:4]
    patches = np.concatenate(
        [
            musicnn_patches(musicnn_log_mel(load_audio(c, sr=MUSICNN_SR)), max_patches=3)
            for c in clips
        ]
    )
    _assert_port_equals_reference(patches, tmp_path)


def test_the_log_mel_stays_finite_where_float16_overflows() -> None:
    loud = np.sign(harmonic_tone(110.0, sr=MUSICNN_SR, seconds=2.0)).astype(np.float32)  # square
    log_mel = musicnn_log_mel(loud)
    assert log_mel.dtype == np.float32 and log_mel.shape[1] == 96
    assert np.isfinite(log_mel).all()
    import librosa

    mel = librosa.feature.melspectrogram(
        y=loud, sr=MUSICNN_SR, hop_length=256, n_fft=512, n_mels=96
    )
    with np.errstate(over="ignore"):
        assert not np.isfinite(np.log10(10000 * mel.astype(np.float16) + 1)).all()


def test_patches_are_3_s_spread_over_the_track_and_short_tracks_are_padded() -> None:
    log_mel = np.arange(1000 * 96, dtype=np.float32).reshape(1000, 96)
    every = musicnn_patches(log_mel)
    assert every.shape == (1000 // PATCH_FRAMES, PATCH_FRAMES, 96)
    assert every[1, 0, 0] == log_mel[PATCH_FRAMES, 0]
    spread = musicnn_patches(log_mel, max_patches=2)
    assert spread.shape[0] == 2
    assert spread[0, 0, 0] == log_mel[0, 0] and spread[1, 0, 0] == every[-1, 0, 0]
    short = musicnn_patches(log_mel[:50])
    assert short.shape == (1, PATCH_FRAMES, 96) and not short[0, 50:].any()


def test_an_unknown_model_is_refused_by_name() -> None:
    with pytest.raises(MusicnnUnavailableError, match="unknown musicnn model 'MSD_vgg16'"):
        checkpoint_prefix("MSD_vgg16")


def test_embedding_columns_pick_the_same_part_of_every_model_s_block() -> None:
    from models.music_embedding import EMBEDDING_SIZE, embedding_columns

    assert EMBEDDING_SIZE == 900
    tags = embedding_columns(("tags",))
    assert tags.tolist() == [*range(400, 450), *range(850, 900)]
    means_and_tags = embedding_columns(("penultimate_mean", "tags"))
    assert means_and_tags.size == 500 and means_and_tags[:200].tolist() == list(range(200))
    everything = embedding_columns(("penultimate_mean", "penultimate_std", "tags"))
    assert sorted(everything.tolist()) == list(range(900))


def test_the_vgg_probe_s_columns_pick_each_part_of_both_models() -> None:
    from models.vgg_probe import vgg_columns

    assert vgg_columns(("tags",)).tolist() == [*range(768, 818), *range(1586, 1636)]
    assert sorted(vgg_columns(("mean", "std", "max", "tags")).tolist()) == list(range(1636))


@needs_musicnn
def test_the_vgg_probe_embeds_a_track_as_both_models_patch_statistics() -> None:
    from models.vgg_probe import VggProbeEmbedder, vgg_columns

    y = harmonic_tone(220.0, sr=MUSICNN_SR, seconds=10.0)
    embedder = VggProbeEmbedder()
    vector = embedder.embed(y)
    assert vector.shape == (1636,) and np.isfinite(vector).all()
    patches = musicnn_patches(musicnn_log_mel(y), max_patches=16)
    out = embedder.networks[1](patches)  # MTT_vgg
    np.testing.assert_allclose(vector[vgg_columns(("max",))][256:], out.penultimate.max(axis=0))
    np.testing.assert_allclose(vector[vgg_columns(("tags",))][50:], out.tags.mean(axis=0))


@needs_musicnn
@pytest.mark.parametrize("model", MUSICNN_MODELS)
def test_the_back_end_s_inputs_and_weights_give_back_the_penultimate_layer(model: str) -> None:
    y = harmonic_tone(220.0, sr=MUSICNN_SR, seconds=7.0) + 0.1 * band_noise(
        2000.0, 4000.0, sr=MUSICNN_SR, seconds=7.0
    )
    patches = musicnn_patches(musicnn_log_mel(y))
    network = Musicnn(model)
    inputs, w = network.back_end_inputs(patches), network.back_end_weights()
    assert inputs.shape == (len(patches), 1506) and w["dense_kernel"].shape == (1506, 200)
    dense = (inputs * w["bn_in_scale"] + w["bn_in_shift"]) @ w["dense_kernel"] + w["dense_bias"]
    penultimate = np.maximum(dense, 0.0) * w["bn_out_scale"] + w["bn_out_shift"]
    np.testing.assert_allclose(penultimate, network(patches).penultimate, atol=1e-4)
    with pytest.raises(ValueError, match="no musicnn back end"):
        Musicnn(VGG_MODELS[0]).back_end_inputs(patches)
