"""``moodstream worker``: one Faust stream worker."""

from __future__ import annotations

import os

import click

from streams.settings import Settings

__all__ = ["worker", "WORKER_THREAD_ENV"]

#: Native thread pools of the worker process, one thread each unless the environment says
#: otherwise. The worker parallelises across events itself (a batch of clips is read side by
#: side in threads, streams.agents); BLAS/OpenMP pools of their own inside each of those calls
#: would oversubscribe the cores and make the threads fight. TensorFlow keeps its defaults
#: (intra-op threads = cores): the music embedding runs one track at a time.
WORKER_THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@click.command()
@click.option("--web-port", type=int, default=None, help="HTTP port (default MOODSTREAM_WEB_PORT).")
@click.option("--loglevel", default="info", show_default=True)
@click.pass_obj
def worker(settings: Settings, web_port: int | None, loglevel: str) -> None:
    """Run a Faust stream worker (agents, tables, HTTP API)."""
    for name, value in WORKER_THREAD_ENV.items():  # before numpy/librosa load their pools
        os.environ.setdefault(name, value)
    from streams.app import run_worker

    if web_port is not None:
        settings = settings.replace(web_port=web_port)
    run_worker(settings, loglevel=loglevel)
