"""Run ``moodstream worker`` as a child process that the caller owns: the end-to-end tests and
``moodstream bench pipeline`` start, kill and restart workers with it. (The demo's worker is a
detached process that outlives the demo: :mod:`deploy.local.processes`.)"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from streams.settings import Settings

__all__ = ["WorkerProcess", "free_port"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class WorkerProcess:
    """One worker subprocess with its own web port; its log is kept for failure messages."""

    def __init__(self, settings: Settings, log_dir: Path) -> None:
        self.settings = settings.replace(web_port=free_port())
        self.log_path = log_dir / f"worker-{self.settings.web_port}.log"
        self.proc: subprocess.Popen | None = None
        self._terminating = False
        #: The worker's log level; ``MOODSTREAM_WORKER_LOGLEVEL=debug`` when chasing a failure.
        self.loglevel = os.environ.get("MOODSTREAM_WORKER_LOGLEVEL", "info")

    def start(self, timeout_s: float = 90.0, *, ready: str = "ready") -> WorkerProcess:
        """Start the worker (again, after a kill: same port, same local store) and wait until
        ``/health`` says ``ready`` (tables recovered and models loaded), or the flag named
        ``ready`` (``"tables_ready"`` for a worker that has no promoted models)."""
        return self.spawn().wait_ready(timeout_s, ready=ready)

    def spawn(self) -> WorkerProcess:
        """Start the worker process without waiting for it: several workers then start side by
        side (and join the group in one rebalance); :meth:`wait_ready` waits for each."""
        env = {**os.environ, **self.settings.to_env()}
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "streams.cli", "worker", "--loglevel", self.loglevel],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._terminating = False
        return self

    def wait_ready(self, timeout_s: float = 90.0, *, ready: str = "ready") -> WorkerProcess:
        """Wait until the spawned worker's ``/health`` flag ``ready`` is true.

        Raises:
            RuntimeError: the worker exited, or was not ready in ``timeout_s`` (with its log's
                tail).
        """
        if self.proc is None:
            raise RuntimeError("wait_ready() before spawn(): the worker was never started")
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if self.get("/health")[ready]:
                    return self
            except (urllib.error.URLError, OSError, ValueError):
                pass
            time.sleep(0.5)
        raise RuntimeError(f"worker did not answer /health in {timeout_s} s:\n{self.log_tail()}")

    def get(self, path: str, *, status: int = 200) -> dict:
        """GET ``path`` as JSON; an HTTP error with code ``status`` is returned, not raised."""
        url = f"http://127.0.0.1:{self.settings.web_port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            if exc.code == status:
                return json.loads(exc.read())
            raise

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no final commit."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 30 s."""
        self.terminate()
        if self.proc and self.proc.poll() is None:
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def terminate(self) -> None:
        """SIGTERM without waiting (once per run): stop several workers side by side, then
        :meth:`stop` each."""
        if self.proc and self.proc.poll() is None and not self._terminating:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self._terminating = True

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""
