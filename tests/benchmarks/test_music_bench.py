"""``moodstream bench music --ingest-profile``: the profile adds up and says its ceiling."""

from __future__ import annotations

import pytest

from benchmarks.music_model import format_ingest_profile, run_ingest_profile


@pytest.mark.slow
def test_the_ingest_profile_times_every_stage_and_its_ceiling_follows_from_them() -> None:
    pytest.importorskip("musicnn", reason="the musicnn checkpoints are not installed")
    report = run_ingest_profile(track_s=6.0, patch_counts=(1,), repeats=1)
    stages = report["stages_ms"]
    assert set(stages) >= {"segment_features_ms", "MSD_musicnn_ms", "MTT_musicnn_ms"}
    assert all(ms > 0 for ms in stages.values())
    assert report["patches"] == 2  # 6 s: two 3 s patches
    assert report["total_ms"] == pytest.approx(sum(stages.values()), abs=0.2)
    ceiling = report["track_s"] / (report["total_ms"] / 1000)
    assert report["ceiling_audio_hours_per_cpu_hour"] == pytest.approx(ceiling, rel=0.01)
    text = format_ingest_profile(report)
    assert "MSD_musicnn ms per patch by patches per call: 1:" in text
    assert f"at most {report['ceiling_audio_hours_per_cpu_hour']} audio-hours" in text
