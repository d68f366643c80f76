"""Voice clips read in child processes, so one worker uses more than one core (issue 19).

Reading a clip (decode, speech rule, HSF functionals, spectrogram:
:func:`models.voice.read_voice_clip`) is most of a clip's CPU, and much of it holds the GIL
(the features' Python loops). In threads of the worker it shares one core with the event loop,
Kafka's client and the tables: measured, a worker then saturates at 100 % of one core. A
:class:`ClipReaders` pool reads clips in ``processes`` child processes instead; the worker's own
process keeps the loop and the listener-dependent half (the model's ``answer``).

The children are spawned (never forked: the worker has TensorFlow's and Kafka's threads) and
import only the feature code, not TensorFlow. A child that dies (a decoder crash on hostile
audio, the OOM killer) fails the clips it held with :class:`ClipReaderCrashedError`: they are
dead-lettered, with that reason, and the next clip gets a fresh pool.

With ``processes=0`` clips are read in the worker's threads (tests that fake the voice model).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from models.voice import ClipReading, read_voice_clip
from streams.exceptions import ClipReaderCrashedError

__all__ = ["ClipReaders", "CHILD_THREAD_ENV"]

logger = logging.getLogger(__name__)

#: A child reads one clip at a time: its native pools get one thread each.
CHILD_THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _start_child() -> None:
    for name, value in CHILD_THREAD_ENV.items():
        os.environ[name] = value
    import models.features.voice  # noqa: F401  (the features' imports, before the first clip)


def _ready() -> int:
    return os.getpid()


class ClipReaders:
    """A pool of ``processes`` child processes that read clips; started on first use."""

    def __init__(self, processes: int) -> None:
        if processes < 0:
            raise ValueError(f"processes must be 0 or more, not {processes}")
        self.processes = processes
        self._pool: ProcessPoolExecutor | None = None

    def _running_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_child,
            )
        return self._pool

    async def start(self) -> None:
        """Spawn the children now and wait until each has its imports (about a second), so the
        first clips do not pay for it."""
        if self.processes == 0:
            return
        pool = self._running_pool()
        loop = asyncio.get_running_loop()
        pids = await asyncio.gather(
            *(loop.run_in_executor(pool, _ready) for _ in range(self.processes))
        )
        logger.info(
            "clip readers ready: %d process(es), pids %s", self.processes, sorted(set(pids))
        )

    async def read(self, audio: bytes) -> ClipReading:
        """The clip's reading (:func:`models.voice.read_voice_clip`), computed in a child.

        Raises:
            AudioDecodeError: the clip gate refused the clip.
            ClipReaderCrashedError: the child reading it died; the pool is replaced.
        """
        if self.processes == 0:
            return await asyncio.to_thread(read_voice_clip, audio)
        pool = self._running_pool()
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, read_voice_clip, audio)
        except BrokenProcessPool as exc:
            if self._pool is pool:
                self._pool = None  # the next clip gets a fresh pool
                pool.shutdown(wait=False, cancel_futures=True)
            logger.error("a clip reader process died; its clips are dead-lettered: %s", exc)
            raise ClipReaderCrashedError(
                f"the process reading this {len(audio)}-byte clip died before it finished (a "
                "decoder crash, or the machine ran out of memory); the clip was not read. If it "
                "recurs for this clip, the clip is the cause: do not send it again"
            ) from exc

    def close(self) -> None:
        """Stop the children (the clips they hold are not answered; Kafka has them)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
