"""The speech rule's two error rates (models.speech_rule), on the project's seeded synthetic
speech and music; the figures on the real corpora are in docs/voice-model.md."""

from __future__ import annotations

from models.speech_rule import NOISE_LEVELS_DBFS, NOISE_SNRS_DB, speech_rule_report


def test_the_report_counts_rejections_per_corpus_and_acceptances_per_kind(
    synthetic_speech_dir, synthetic_music_dir
) -> None:
    report = speech_rule_report([synthetic_speech_dir], [synthetic_music_dir], per_kind=4)
    rejected = report["false_rejection"][synthetic_speech_dir.name]
    assert rejected["clips"] == sum(r["clips"] for r in rejected["by_emotion"].values())
    assert rejected["rate"] <= 0.05  # espeak-ng speech pauses and articulates
    noisy = report["false_rejection_in_noise"]
    rows = [
        noisy[f"{synthetic_speech_dir.name}, pink noise at SNR {snr:g} dB"] for snr in NOISE_SNRS_DB
    ]
    assert all(row["clips"] == rejected["clips"] for row in rows)
    assert rows[0]["rate"] <= rows[-1]["rate"]  # more noise, more speech missed
    assert (
        report["feature_spec"].startswith("voice-") and report["thresholds"]["min_voiced_s"] == 0.2
    )
    accepted = report["false_acceptance"]
    assert accepted["silence"] == {"clips": 1, "rate": 0.0}
    for kind in ("white", "pink"):
        for level in NOISE_LEVELS_DBFS:
            row = accepted[f"{kind} noise {level:g} dBFS"]
            assert row["clips"] == 4 and row["rate"] == 0.0  # noise has no pitch
    assert accepted[f"music: {synthetic_music_dir.name}"]["clips"] > 0
    assert report["summary"]["false_acceptance_silence_and_noise"] == 0.0
