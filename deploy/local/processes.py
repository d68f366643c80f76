"""Detached server processes with pid files: the local stack's servers and the demo's worker.

Each process has a name and a folder ``<home>/<name>/`` holding ``<name>.pid`` (and usually its
log). A pid counts as ours only while ``/proc/<pid>/cmdline`` contains the process's marker, so
a pid reused by the system after a reboot is never signalled.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from pathlib import Path

__all__ = ["pid_file", "running_pid", "rss_mb", "spawn", "start_detached", "stop"]

logger = logging.getLogger(__name__)


def pid_file(home: Path, name: str) -> Path:
    """Where the pid of process ``name`` is recorded."""
    return home / name / f"{name}.pid"


def running_pid(home: Path, name: str, cmdline_marker: str) -> int | None:
    """The pid of our ``name`` process if it is alive (and really ours, not a reused pid)."""
    try:
        pid = int(pid_file(home, name).read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (OSError, ValueError):
        return None
    return pid if cmdline_marker in cmdline and not _is_zombie(pid) else None


def rss_mb(pid: int) -> float | None:
    """Resident memory of ``pid`` in MB, or ``None`` when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def spawn(cmd: list[str], *, log: Path, env: dict[str, str], pid_file: Path) -> subprocess.Popen:
    """Start ``cmd`` in its own session (it outlives this process), appending its output to
    ``log``; record its pid in ``pid_file``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, start_new_session=True,
        )  # fmt: skip
    pid_file.write_text(str(proc.pid))
    return proc


def start_detached(
    home: Path, name: str, cmd: list[str], *, env: dict[str, str], cmdline_marker: str
) -> int:
    """Start ``cmd`` as process ``name`` unless it already runs; return its pid.

    Its output goes to ``<home>/<name>/<name>.log``; :func:`stop` ends it.
    """
    pid = running_pid(home, name, cmdline_marker)
    if pid is not None:
        return pid
    log = home / name / f"{name}.log"
    return spawn(cmd, log=log, env=env, pid_file=pid_file(home, name)).pid


def stop(home: Path, name: str, cmdline_marker: str, timeout_s: float = 30.0) -> bool:
    """SIGTERM process ``name``, SIGKILL after ``timeout_s``; whether it was running."""
    pid = running_pid(home, name, cmdline_marker)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if running_pid(home, name, cmdline_marker) is None:
            break
        time.sleep(0.2)
    else:
        logger.warning("%s (pid %d) ignored SIGTERM for %.0f s; killing it", name, pid, timeout_s)
        os.kill(pid, signal.SIGKILL)
    pid_file(home, name).unlink(missing_ok=True)
    return True


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return True
