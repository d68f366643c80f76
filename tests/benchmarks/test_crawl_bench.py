"""The crawl benchmark's plumbing against the real stack (its figures come from `make bench`)."""

from __future__ import annotations

import pytest


@pytest.mark.integration
def test_crawl_bench_crawls_every_track_at_every_level(local_stack) -> None:
    from benchmarks.crawl import format_report, run_crawl_bench

    report = run_crawl_bench(local_stack, tracks=3, seconds=1.0, levels=(1, 4))
    assert [r["tracks"] for r in report["by_concurrency"].values()] == [3, 3]
    assert all(r["tracks_per_s"] > 0 for r in report["by_concurrency"].values())
    assert "concurrency" in format_report(report)
