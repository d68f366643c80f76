"""``moodstream bench catalog`` measures what it says (small sizes; the figures are in docs/throughput.md)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from benchmarks.catalog import run_catalog_bench
from benchmarks.cli import bench


def test_a_label_writes_one_card_whatever_the_catalog_size() -> None:
    report = run_catalog_bench((1_000, 8_000), seed=3)
    small, large = report["sizes"]
    assert (small["tracks"], large["tracks"]) == (1_000, 8_000)
    # One card per label: the record does not grow with the catalog...
    assert 150 < small["record_bytes_mean"] < 400
    assert abs(large["record_bytes_mean"] - small["record_bytes_mean"]) < 20
    # ...where the earlier design rewrote the label's whole emotion list (a quarter of the ids).
    assert large["earlier_design_record_bytes"] > 8_000 / 4 * 40
    assert report["worker_memory_mb"] > 0


def test_the_command_prints_json_and_refuses_sizes_it_cannot_time() -> None:
    result = CliRunner().invoke(bench, ["catalog", "--sizes", "1000,2000", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.splitlines()[-1])
    assert [row["tracks"] for row in report["sizes"]] == [1_000, 2_000]
    refused = CliRunner().invoke(bench, ["catalog", "--sizes", "500"])
    assert refused.exit_code == 2 and "at least 1000 tracks" in refused.output
