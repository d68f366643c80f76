"""``moodstream bench catalog``: what labelling one track costs as the catalog grows.

A label writes one card (track id -> metadata, object key, emotion, theme) to the global
``cards`` table and places it in the worker's :class:`~streams.catalog.CatalogIndex`. At each
catalog size the benchmark times that write as a worker does it (the changelog record encoded
as JSON, the in-memory store and the index updated) and reports the record's bytes, next to
what the earlier design wrote for the same label: the label's whole emotion list, rewritten.

Memory is the resident-set growth of this process while it holds the cards and the index for
the largest size: what a worker holds for that catalog (each worker holds all of it).
"""

from __future__ import annotations

import gc
import json
import os
import random
import time

import numpy as np

from schemas.emotions import EMOTIONS
from streams.catalog import CatalogIndex

__all__ = ["run_catalog_bench", "format_report", "DEFAULT_SIZES"]

DEFAULT_SIZES = (1_000, 10_000, 100_000, 1_000_000)

#: Writes timed at each size.
WRITES = 1_000


def _rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _card(i: int, rng: random.Random) -> tuple[str, dict]:
    """A card shaped like the crawler's: a 40-character id, five metadata fields."""
    track_id = f"{rng.getrandbits(160):040x}"
    return track_id, {
        "metadata": {
            "title": f"Track number {i}",
            "singer": f"Singer {i % 5000}",
            "author": f"Author {i % 3000}",
            "duration_s": 180.0 + i % 120,
            "album": f"Album {i % 20000}",
        },
        "object_key": f"site-{i % 7}/{track_id}.mp3",
        "emotion": EMOTIONS[i % len(EMOTIONS)],
        "theme_id": i % 5,
    }


def run_catalog_bench(sizes: tuple[int, ...] = DEFAULT_SIZES, *, seed: int = 0, log=None) -> dict:
    """Fill a catalog up to each size in turn, timing ``WRITES`` labels at each; return figures."""
    rng = random.Random(seed)
    gc.collect()
    rss_before = _rss_mb()
    store: dict[str, dict] = {}  # what the in-memory store of the cards table holds
    index = CatalogIndex()
    rows = []
    filled = 0
    for size in sorted(sizes):
        while filled < size - WRITES:  # the first fill, untimed
            track_id, card = _card(filled, rng)
            store[track_id] = card
            index.place(track_id, card)
            filled += 1
        times, record_bytes = [], []
        for _ in range(WRITES):
            track_id, card = _card(filled, rng)
            started = time.perf_counter()
            record = json.dumps(card).encode()  # the changelog record's value
            store[track_id] = card
            index.place(track_id, card)
            times.append(time.perf_counter() - started)
            record_bytes.append(len(track_id) + len(record))
            filled += 1
        emotion = EMOTIONS[(filled - 1) % len(EMOTIONS)]
        whole_list = {t: list(ids) for t, ids in index.themes(emotion).items()}
        rows.append(
            {
                "tracks": filled,
                "record_bytes_mean": float(np.mean(record_bytes)),
                "record_bytes_max": int(np.max(record_bytes)),
                "write_ms_p50": float(np.percentile(times, 50) * 1e3),
                "write_ms_p99": float(np.percentile(times, 99) * 1e3),
                "earlier_design_record_bytes": len(json.dumps(whole_list)),
            }
        )
        if log:
            log(f"{filled} tracks: p99 {rows[-1]['write_ms_p99']:.3f} ms")
    gc.collect()
    rss_mb = _rss_mb() - rss_before
    first, last = rows[0], rows[-1]
    return {
        "writes_per_size": WRITES,
        "sizes": rows,
        "bytes_growth": last["record_bytes_mean"] / first["record_bytes_mean"],
        "p99_growth": last["write_ms_p99"] / first["write_ms_p99"],
        "worker_memory_mb": rss_mb,
        "worker_memory_bytes_per_track": rss_mb * 2**20 / last["tracks"],
    }


def format_report(report: dict) -> str:
    lines = [
        f"{'tracks':>9}  {'record bytes':>12}  {'p50 ms':>7}  {'p99 ms':>7}  "
        f"{'earlier design bytes':>20}"
    ]
    for row in report["sizes"]:
        lines.append(
            f"{row['tracks']:>9}  {row['record_bytes_mean']:>12.0f}  {row['write_ms_p50']:>7.3f}  "
            f"{row['write_ms_p99']:>7.3f}  {row['earlier_design_record_bytes']:>20}"
        )
    lines.append(
        f"growth from the smallest to the largest: bytes x{report['bytes_growth']:.2f}, "
        f"p99 x{report['p99_growth']:.2f}"
    )
    lines.append(
        f"worker memory for {report['sizes'][-1]['tracks']} tracks: "
        f"{report['worker_memory_mb']:.0f} MB "
        f"({report['worker_memory_bytes_per_track']:.0f} bytes per track, cards and index)"
    )
    return "\n".join(lines)
