"""The features benchmark's plumbing on two small synthetic files (its figures come from `make bench`)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from benchmarks import features as features_bench
from benchmarks.features import MissingExtraError, format_report, run_features_bench
from tests.models.synthetic_signals import click_track, harmonic_tone


def test_report_has_the_documented_keys(tmp_path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    sf.write(corpus / "a.flac", harmonic_tone(220.0, seconds=7.0), 22050)
    sf.write(
        corpus / "b.ogg", click_track(120.0, seconds=7.0), 22050, format="OGG", subtype="VORBIS"
    )
    report = run_features_bench(
        corpus, implementations=("moodstream", "librosa_reference"), rounds=2, log=lambda _: None
    )
    assert report["files"] == 2 and report["audio_seconds"] == np.float64(14.0)
    for impl in ("moodstream", "librosa_reference"):
        row = report[impl]
        assert row["rtf_per_core"] > 0 and row["peak_rss_mb"] >= 0
        assert len(row["rtf_per_core_each_round"]) == 2
        # each file counts with its cheapest round: never slower than the faster round
        assert row["rtf_per_core"] >= max(row["rtf_per_core_each_round"]) * (1 - 1e-9)
    assert len(report["agreement_pearson_r"]) == 62
    assert report["moodstream"]["peak_rss_mb_10min_track"] >= 0
    assert "x real time / core" in format_report(report)


def _without_opensmile(monkeypatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "opensmile" else real(name, *a),
    )


def test_without_the_bench_extra_the_opensmile_row_is_skipped_with_what_to_install(
    tmp_path, monkeypatch
) -> None:
    _without_opensmile(monkeypatch)
    available = features_bench.available_implementations()
    assert available["moodstream"] is None and available["librosa_reference"] is None
    assert "pip install -e '.[bench]'" in available["opensmile_egemaps"]
    ran = []
    summary = {"audio_seconds": 1.0, "peak_rss_mb": 1.0}
    monkeypatch.setattr(
        features_bench,
        "_run_child",
        lambda impl, files, workdir: ran.append(impl) or (summary, None),
    )
    monkeypatch.setattr(features_bench, "_best_of_rounds", lambda summaries: {"rtf_per_core": 1})
    monkeypatch.setattr(features_bench, "_ten_minute_track", lambda files, workdir: files[0])
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    sf.write(corpus / "a.wav", harmonic_tone(220.0, seconds=1.0), 22050)
    logged = []
    report = run_features_bench(corpus, rounds=1, log=logged.append)
    assert "opensmile_egemaps" not in ran and {"moodstream", "librosa_reference"} <= set(ran)
    assert "opensmile" in report["skipped"]["opensmile_egemaps"]
    assert any(line.startswith("skipping opensmile_egemaps") for line in logged)


def test_asking_for_the_opensmile_row_without_the_extra_says_what_to_install(
    tmp_path, monkeypatch
) -> None:
    _without_opensmile(monkeypatch)
    with pytest.raises(MissingExtraError, match=r"opensmile_egemaps.*pip install -e '\.\[bench\]'"):
        run_features_bench(tmp_path, implementations=("opensmile_egemaps",), log=lambda _: None)


def test_best_of_rounds_takes_each_files_cheapest_round() -> None:
    from benchmarks.features import _best_of_rounds

    def summary(a: tuple[float, float], b: tuple[float, float], rss: float) -> dict:
        per_file = {
            "a": {"cpu_seconds": a[0], "decode_cpu_seconds": a[1]},
            "b": {"cpu_seconds": b[0], "decode_cpu_seconds": b[1]},
        }
        cpu = a[0] + b[0]
        return {
            "per_file": per_file,
            "audio_seconds": 100.0,
            "rtf_per_core": 100.0 / cpu,
            "features_only_rtf_per_core": 1.0,
            "peak_rss_mb": rss,
        }

    best = _best_of_rounds(
        [summary((1.0, 0.5), (4.0, 1.0), 80.0), summary((2.0, 0.5), (2.0, 1.5), 90.0)]
    )
    assert best["cpu_seconds"] == pytest.approx(3.0)  # a from round 1, b from round 2
    assert best["rtf_per_core"] == pytest.approx(100.0 / 3.0)
    assert best["features_only_rtf_per_core"] == pytest.approx(100.0 / (0.5 + 0.5))
    assert best["peak_rss_mb"] == 90.0  # memory: the most any round needed


def test_formant_bench_compares_both_root_finders(tmp_path) -> None:
    from benchmarks.formant_roots import format_report, run_formant_roots_bench
    from models.datasets.vowels import vowel

    path = tmp_path / "vowel.flac"
    sf.write(path, vowel((730.0, 1090.0, 2440.0), (90.0, 110.0, 160.0), seconds=3.0), 22050)
    report = run_formant_roots_bench([path], repeats=1, log=lambda _: None)
    assert report["files"] == 1 and report["frames"] > 50
    assert report["frames_same_f1_f3"] > 0.9  # a clean vowel: three separated envelope peaks
    for name in ("companion", "envelope-peaks"):
        assert report[name]["seconds_per_10k_frames"] > 0
        assert 0 <= report[name]["vowel_mean_error"] <= report[name]["vowel_max_error"] < 0.10
    assert "envelope-peaks" in format_report(report)


def test_music_bench_reports_latency_throughput_and_a_single_trace() -> None:
    from benchmarks.music_model import format_report, run_music_bench

    report = run_music_bench(repeats=20, batch_sizes=(1, 4))
    lat = report["latency_ms"]
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"]
    assert report["traces"] == 1  # tracks of different lengths never retrace
    assert set(report["throughput_tracks_per_s"]) == {"1", "4"}
    assert all(v > 0 for v in report["throughput_tracks_per_s"].values())
    assert "p50" in format_report(report)


def test_voice_bench_reports_the_whole_path_on_a_speech_clip() -> None:
    from benchmarks.voice_model import format_report, run_voice_bench

    for kind in ("champion", "network"):
        report = run_voice_bench(kind=kind, repeats=5)
        assert report["has_speech"] is True  # the bench clip passes the speech rule
        lat = report["latency_ms"]
        assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"]
        assert report["decode_ms_p50"] > 0 and report["features_ms_p50"] > 0
        assert report["traces"] == (1 if kind == "network" else None)
        assert f"untrained-{kind}-bench" in format_report(report)
