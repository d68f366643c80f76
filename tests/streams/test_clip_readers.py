"""Voice clips read in child processes (issue 19, both cores): the same reading as in the
worker's own process, the clip gate's errors as they are, and a dead child survived."""

from __future__ import annotations

import asyncio
import io
import os

import numpy as np
import pytest
import pytest_asyncio
import soundfile as sf

from models.datasets.vowels import syllables
from models.exceptions import AudioDecodeError
from models.voice import read_voice_clip
from streams.clip_readers import ClipReaders
from streams.exceptions import ClipReaderCrashedError, ClipReadTimeoutError


def _wav(seconds: float = 1.5) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, syllables(sr=16_000, seconds=seconds), 16_000, format="WAV")
    return buf.getvalue()


@pytest_asyncio.fixture()
async def readers():
    pool = ClipReaders(processes=1)
    await pool.start()
    yield pool
    pool.close()


@pytest.mark.asyncio
async def test_a_child_reads_a_clip_as_the_worker_would(readers) -> None:
    audio = _wav()
    here = read_voice_clip(audio)
    there = await readers.read(audio)
    assert there.duration_s == pytest.approx(here.duration_s)
    assert there.activity.voiced_s == pytest.approx(here.activity.voiced_s)
    assert here.functionals is not None  # speech-like: the features were computed
    np.testing.assert_allclose(there.functionals, here.functionals, rtol=1e-5, atol=1e-6)


@pytest.mark.asyncio
async def test_the_clip_gate_s_refusal_comes_back_as_itself(readers) -> None:
    with pytest.raises(AudioDecodeError, match="cannot decode"):
        await readers.read(b"RIFF" + bytes(300))


@pytest.mark.asyncio
async def test_a_dead_child_fails_its_clip_and_the_next_clip_gets_a_fresh_reader(readers) -> None:
    pool = readers._running_pool()
    with pytest.raises(Exception):  # noqa: B017,PT011  (the child exits: the pool breaks)
        await asyncio.get_running_loop().run_in_executor(pool, os._exit, 1)
    with pytest.raises(ClipReaderCrashedError, match="died before it finished"):
        await readers.read(_wav())
    reading = await readers.read(_wav())  # a new pool, a new child
    assert reading.duration_s == pytest.approx(1.5)


def test_a_negative_pool_is_refused() -> None:
    with pytest.raises(ValueError):
        ClipReaders(processes=-1)


def _hang(audio: bytes) -> float:
    """Stands in for a decoder that never returns on a hostile file (runs in the child)."""
    import time

    time.sleep(3600)
    return 0.0


@pytest.mark.asyncio
async def test_a_reader_stuck_past_the_deadline_is_killed_and_others_go_on() -> None:
    """Issue 27: a clip that hangs its reader fails with ClipReadTimeoutError; the clip that
    was waiting behind it is read (on a fresh reader), and so is the next one."""
    pool = ClipReaders(processes=1, timeout_s=3.0)
    await pool.start()
    try:
        stuck = asyncio.ensure_future(pool.run(_hang, b"hostile"))
        waiting = asyncio.ensure_future(pool.read(_wav()))
        with pytest.raises(ClipReadTimeoutError, match="longer than 3 s"):
            await stuck
        assert (await waiting).duration_s == pytest.approx(1.5)
        assert (await pool.gate(_wav(2.0))) == pytest.approx(2.0)
    finally:
        pool.close()


@pytest.mark.asyncio
async def test_a_fresh_reader_s_start_does_not_count_against_a_clip_s_deadline() -> None:
    """Spawning a reader and its imports take about a second idle, several on a loaded machine;
    a legitimate clip must not be refused as a hang because its reader was cold (this happened
    to the clip waiting behind a killed reader, under a loaded test run)."""
    pool = ClipReaders(processes=1, timeout_s=0.5)  # no start(): the first clip meets a cold pool
    try:
        assert (await pool.read(_wav())).duration_s == pytest.approx(1.5)
        stuck = asyncio.ensure_future(pool.run(_hang, b"hostile"))
        waiting = asyncio.ensure_future(pool.read(_wav(1.0)))  # on the pool that replaces it
        with pytest.raises(ClipReadTimeoutError, match="longer than 0.5 s"):
            await stuck
        assert (await waiting).duration_s == pytest.approx(1.0)
    finally:
        pool.close()


@pytest.mark.asyncio
async def test_the_gate_refuses_in_the_child_with_the_gate_s_words(readers) -> None:
    with pytest.raises(AudioDecodeError, match="not a container moodstream reads"):
        await readers.gate(b"#EXTM3U\n#EXTINF:10,\nhttp://127.0.0.1:9/a.ts\n")
