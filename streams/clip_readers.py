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
dead-lettered, with that reason, and the next clip gets a fresh pool. A child that takes longer
than the deadline over one clip (a decoder that hangs on a hostile file) is killed and
replaced: the clip fails with :class:`ClipReadTimeoutError`, and every other listener's clip
goes on. The HTTP API's clip gate runs here too (:meth:`ClipReaders.gate`), with the same
isolation.

With ``processes=0`` clips are read in the worker's threads (tests that fake the voice model).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import weakref
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

from models.features.voice import DEFAULT_VOICE_SPEC
from models.voice import ClipReading, decode_voice_clip, read_voice_clip
from streams.exceptions import ClipReaderCrashedError, ClipReadTimeoutError

__all__ = ["ClipReaders", "CHILD_THREAD_ENV", "gate_clip"]

T = TypeVar("T")

logger = logging.getLogger(__name__)

#: How long a fresh pool's children may take to start (spawn, imports) before clips run on it.
STARTUP_TIMEOUT_S = 120.0
#: A child reads one clip at a time: its native pools get one thread each.
CHILD_THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _start_child() -> None:
    for name, value in CHILD_THREAD_ENV.items():
        os.environ[name] = value
    import io

    import soundfile as sf

    from models.datasets.vowels import syllables

    # One read of a short synthetic clip: what a read imports and initialises on first use
    # (about 0.3 s) is paid here, before the first listener's clip and its deadline.
    buffer = io.BytesIO()
    sf.write(buffer, syllables(sr=16_000, seconds=1.0), 16_000, format="WAV")
    read_voice_clip(buffer.getvalue())


def _ready() -> int:
    return os.getpid()


def gate_clip(audio: bytes) -> float:
    """The clip gate alone (:func:`models.voice.decode_voice_clip`): the clip's decoded length
    in seconds, or the gate's error. The HTTP API calls it through :meth:`ClipReaders.gate`."""
    return decode_voice_clip(audio).size / DEFAULT_VOICE_SPEC.sr


class ClipReaders:
    """A pool of ``processes`` child processes that read clips; started on first use.

    Each clip has ``timeout_s`` of a reader's time: at most ``processes`` clips are handed to
    the pool at once, so a clip's clock starts when a reader takes it, not while it queues, nor
    while a fresh pool's children start (spawn and imports: seconds on a loaded machine, within
    :data:`STARTUP_TIMEOUT_S`). A reader past the deadline is killed with its pool; the clip
    fails with :class:`ClipReadTimeoutError`, and clips the killed pool held for others are
    read again on the fresh one (once)."""

    def __init__(self, processes: int, *, timeout_s: float = 10.0) -> None:
        if processes < 0:
            raise ValueError(f"processes must be 0 or more, not {processes}")
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be above 0, not {timeout_s}")
        self.processes = processes
        self.timeout_s = timeout_s
        self._pool: ProcessPoolExecutor | None = None
        self._killed: weakref.WeakSet[ProcessPoolExecutor] = weakref.WeakSet()
        self._started: weakref.WeakSet[ProcessPoolExecutor] = weakref.WeakSet()
        self._starting: asyncio.Lock | None = None
        self._slots: asyncio.Semaphore | None = None

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
        await self._ensure_started(self._running_pool())

    async def _ensure_started(self, pool: ProcessPoolExecutor) -> None:
        """Return once every child of ``pool`` has started (each answered once).

        Raises ``asyncio.TimeoutError`` past :data:`STARTUP_TIMEOUT_S` and
        ``BrokenProcessPool`` when a child died meanwhile."""
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if pool in self._started:
                return
            loop = asyncio.get_running_loop()
            pids = await asyncio.wait_for(
                asyncio.gather(
                    *(loop.run_in_executor(pool, _ready) for _ in range(self.processes))
                ),
                STARTUP_TIMEOUT_S,
            )
            self._started.add(pool)
            logger.info(
                "clip readers ready: %d process(es), pids %s", self.processes, sorted(set(pids))
            )

    async def read(self, audio: bytes) -> ClipReading:
        """The clip's reading (:func:`models.voice.read_voice_clip`), computed in a child.

        Raises:
            AudioDecodeError: the clip gate refused the clip.
            ClipReaderCrashedError: the child reading it died; the pool is replaced.
            ClipReadTimeoutError: the child took longer than ``timeout_s``; it was killed.
        """
        return await self.run(read_voice_clip, audio)

    async def gate(self, audio: bytes) -> float:
        """The clip gate in a child (:func:`gate_clip`): the decoded length in seconds, or the
        gate's error; the same deadline and crash isolation as :meth:`read`."""
        return await self.run(gate_clip, audio)

    async def run(self, task: Callable[[bytes], T], audio: bytes) -> T:
        """``task(audio)`` in a reader, within the deadline (``task`` must be importable in a
        spawned child: a module-level function)."""
        if self.processes == 0:  # threads cannot be killed: the caller stops waiting, at least
            try:
                return await asyncio.wait_for(asyncio.to_thread(task, audio), self.timeout_s)
            except asyncio.TimeoutError:
                raise self._timed_out(audio) from None
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.processes)
        async with self._slots:
            for attempt in range(2):
                pool = self._running_pool()
                try:  # a broken pool refuses at submit already
                    await self._ensure_started(pool)  # a fresh pool's start is not the clip's
                    future = asyncio.get_running_loop().run_in_executor(pool, task, audio)
                    return await asyncio.wait_for(future, self.timeout_s)
                except asyncio.TimeoutError:
                    started = pool in self._started
                    self._kill(pool)
                    if not started:
                        raise ClipReaderCrashedError(
                            f"the clip readers did not start within {STARTUP_TIMEOUT_S:g} s (the "
                            "machine is overloaded or out of memory); this clip was not read: "
                            "send it again later"
                        ) from None
                    raise self._timed_out(audio) from None
                except BrokenProcessPool as exc:
                    if pool in self._killed and attempt == 0:
                        continue  # killed for another clip's deadline: read this one again
                    self._replace(pool)
                    logger.error("a clip reader process died; its clips are dead-lettered: %s", exc)
                    raise ClipReaderCrashedError(
                        f"the process reading this {len(audio)}-byte clip died before it "
                        "finished (a decoder crash, or the machine ran out of memory); the clip "
                        "was not read. If it recurs for this clip, the clip is the cause: do not "
                        "send it again"
                    ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _timed_out(self, audio: bytes) -> ClipReadTimeoutError:
        logger.error("a clip reader took over %g s on one clip; it was stopped", self.timeout_s)
        return ClipReadTimeoutError(
            f"reading this {len(audio)}-byte clip took longer than {self.timeout_s:g} s (a clip "
            "of at most 30 s takes well under one): the reader was stopped. Do not send this "
            "file again; re-encode it as WAV, FLAC, OGG or MP3"
        )

    def _replace(self, pool: ProcessPoolExecutor) -> None:
        if self._pool is pool:
            self._pool = None  # the next clip gets a fresh pool
        pool.shutdown(wait=False, cancel_futures=True)

    def _kill(self, pool: ProcessPoolExecutor) -> None:
        """Kill ``pool``'s children (a stuck decoder does not return to be asked to stop)."""
        self._killed.add(pool)
        # The executor keeps its children in ``_processes`` (no public handle on them).
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.kill()
        self._replace(pool)

    def close(self) -> None:
        """Stop the children (the clips they hold are not answered; Kafka has them)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
