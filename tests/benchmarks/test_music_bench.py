"""``moodstream bench music --ingest-profile``: the profile adds up and says its ceiling."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.music_model import format_ingest_profile, run_ingest_profile

ROOT = Path(__file__).resolve().parents[2]


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


def test_a_bench_after_tensorflow_has_run_says_its_threads_were_not_pinned() -> None:
    # A fresh process, so that no earlier test has pinned or started TensorFlow's pools.
    script = (
        "import tensorflow as tf\n"
        "from benchmarks.tf_threads import pin_tensorflow_to_one_thread\n"
        "tf.reduce_sum(tf.ones(3)).numpy()\n"
        "print(pin_tensorflow_to_one_thread(), tf.config.threading.get_intra_op_parallelism_threads())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT,
        timeout=120,
    ).stdout.split()  # fmt: skip
    assert out == ["False", "0"]  # refused, and TensorFlow keeps its defaults (0 = one per core)
