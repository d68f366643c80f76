"""The local stack: Apache Kafka 4.1 (KRaft, one node) and MinIO on 127.0.0.1.

Both are built here rather than downloaded as binaries, because only package registries are
reachable: Kafka's runtime classpath comes from Maven Central (``kafka/pom.xml``), MinIO is
compiled from source through the Go module proxy. Builds land in ``config.cache`` (shared by
every clone on the machine, so a second ``up`` takes seconds); data, logs and pid files land in
``config.home`` (one git-ignored folder per clone), and survive ``down`` then ``up``.

Every function here is idempotent: ``up`` on a running stack checks health and returns.
"""

from __future__ import annotations

import base64
import logging
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from deploy.exceptions import BuildError, MissingToolError, PortInUseError, StartError
from deploy.local.config import StackConfig
from deploy.local.processes import pid_file, rss_mb, running_pid, spawn, stop

__all__ = [
    "KAFKA_VERSION",
    "MINIO_MODULE_VERSION",
    "ServiceStatus",
    "copy_maven_dependencies",
    "ensure_kafka_jars",
    "ensure_minio_binary",
    "new_kafka_cluster_id",
    "stack_up",
    "stack_down",
    "stack_status",
]

logger = logging.getLogger(__name__)

KAFKA_VERSION = "4.1.1"
#: MinIO's community edition is source-only. The Go module proxy serves its repository only at
#: the final commit of the archived project (after RELEASE.2025-10-15T17-29-55Z, whose tag commit
#: 9e49d5e7 the proxy refuses with 403); that is the version built here.
MINIO_MODULE_VERSION = "v0.0.0-20260212201848-7aac2a2c5b7c"
MAVEN_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

_HERE = Path(__file__).resolve().parent
_KAFKA_HEAP = "-Xms256m -Xmx512m"
_START_TIMEOUT_S = 90.0


def new_kafka_cluster_id() -> str:
    """A random KRaft cluster id, as Kafka's own ``Uuid.randomUuid`` makes them.

    The id is 16 random bytes in URL-safe base64 without padding. Like Kafka, this draws again
    when the id would start with ``-``: the storage tool's argument parser would take such an
    id for an option (one format in 64 failed that way before this check).
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


@dataclass(frozen=True)
class ServiceStatus:
    """What runs where: one row of ``moodstream stack status``."""

    name: str
    address: str
    pid: int | None
    healthy: bool
    rss_mb: float | None
    detail: str = ""


# --------------------------------------------------------------------------- tools and builds


def _require_tool(name: str, install_hint: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise MissingToolError(f"'{name}' is not on PATH; install {install_hint} and retry.")
    return path


def _kafka_libs(config: StackConfig) -> Path:
    return config.cache / f"kafka-{KAFKA_VERSION}" / "libs"


def _minio_binary(config: StackConfig) -> Path:
    return config.cache / "bin" / "minio"


_MAVEN_HINT = "Apache Maven (Debian: apt-get install maven)"


def copy_maven_dependencies(pom: Path, libs: Path, *, what: str) -> Path:
    """Resolve the runtime dependencies of ``pom`` from Maven Central into ``libs`` (once: a
    marker file says the folder is complete); return ``libs``.

    Raises
    ------
    MissingToolError
        ``mvn`` is not on PATH.
    BuildError
        Maven could not resolve them (its output is in the message).
    """
    marker = libs / ".complete"
    if marker.exists():
        return libs
    mvn = _require_tool("mvn", _MAVEN_HINT)
    libs.mkdir(parents=True, exist_ok=True)
    logger.info("resolving %s from Maven Central into %s", what, libs)
    cmd = [
        mvn, "-q", "-B", "-f", str(pom), f"{MAVEN_DEPENDENCY_PLUGIN}:copy-dependencies",
        "-DincludeScope=runtime", f"-DoutputDirectory={libs}",
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise BuildError(f"mvn could not resolve {what}:\n{result.stdout}{result.stderr}")
    marker.write_text(pom.read_text())
    return libs


def ensure_kafka_jars(config: StackConfig) -> Path:
    """Resolve Kafka's runtime classpath from Maven Central into the cache; return the libs folder."""
    libs = _kafka_libs(config)
    if (libs / ".complete").exists():
        return libs
    _require_tool("mvn", _MAVEN_HINT)  # named before java, as before
    _require_tool("java", "a Java 17 runtime (Debian: apt-get install openjdk-17-jre-headless)")
    copy_maven_dependencies(
        _HERE / "kafka" / "pom.xml", libs, what=f"the Kafka {KAFKA_VERSION} classpath"
    )
    if not any(libs.glob(f"kafka_2.13-{KAFKA_VERSION}.jar")):
        (libs / ".complete").unlink()  # resolve again next time
        raise BuildError(f"mvn finished but {libs} holds no kafka_2.13-{KAFKA_VERSION}.jar")
    return libs


def ensure_minio_binary(config: StackConfig) -> Path:
    """Build MinIO from source through the Go module proxy into the cache; return the binary."""
    binary = _minio_binary(config)
    stamp = binary.with_name("minio.version")
    if binary.exists() and stamp.exists() and stamp.read_text().strip() == MINIO_MODULE_VERSION:
        return binary
    go = _require_tool("go", "Go 1.24 or newer (https://go.dev/doc/install or Debian golang)")
    binary.parent.mkdir(parents=True, exist_ok=True)
    logger.info("building MinIO %s from source (takes a few minutes once)", MINIO_MODULE_VERSION)
    env = {
        **os.environ,
        "CGO_ENABLED": "0",
        "GOBIN": str(binary.parent),
        "GOFLAGS": "-buildvcs=false",
    }
    result = subprocess.run(
        [go, "install", f"github.com/minio/minio@{MINIO_MODULE_VERSION}"],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    if result.returncode != 0 or not binary.exists():
        raise BuildError(f"go install of MinIO failed:\n{result.stdout}{result.stderr}")
    stamp.write_text(MINIO_MODULE_VERSION)
    return binary


def _port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _wait(check: Callable[[], bool], what: str, log: Path, pid_alive: Callable[[], bool]) -> None:
    """Poll ``check`` until it holds; fail at once with the log's tail if the process died."""
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        if check():
            return
        if not pid_alive():
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise StartError(f"{what} exited during start-up; last log lines ({log}):\n{tail}")
        time.sleep(0.5)
    raise StartError(f"{what} did not become healthy within {_START_TIMEOUT_S:.0f} s; see {log}")


# --------------------------------------------------------------------------- Kafka

_KAFKA_MARKER = "kafka.Kafka"


def _kafka_healthy(config: StackConfig) -> bool:
    """Kafka is healthy when its metadata answers (a broker registered with the controller)."""
    if not _port_open(config.kafka_host, config.kafka_port):
        return False
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        admin = KafkaAdminClient(
            bootstrap_servers=config.kafka_bootstrap,
            request_timeout_ms=3000,
        )
    except (KafkaError, OSError, ValueError):
        return False
    try:
        return len(admin.describe_cluster().get("brokers", [])) > 0
    except (KafkaError, OSError, ValueError):
        return False
    finally:
        admin.close()


def _render_kafka_config(config: StackConfig, root: Path) -> Path:
    properties = root / "config" / "server.properties"
    properties.parent.mkdir(parents=True, exist_ok=True)
    template = (_HERE / "server.properties").read_text()
    properties.write_text(
        template.format(
            host=config.kafka_host,
            port=config.kafka_port,
            controller_port=config.kafka_controller_port,
            log_dirs=(root / "data").resolve(),
        )
    )
    return properties


def _start_kafka(config: StackConfig) -> None:
    if running_pid(config.home, "kafka", _KAFKA_MARKER) is not None:
        if _kafka_healthy(config):
            return
    java = _require_tool(
        "java", "a Java 17 runtime (Debian: apt-get install openjdk-17-jre-headless)"
    )
    libs = ensure_kafka_jars(config)
    if _port_open(config.kafka_host, config.kafka_port):
        raise PortInUseError(
            f"{config.kafka_bootstrap} is taken by another process; stop it or set "
            "MOODSTREAM_KAFKA_BOOTSTRAP to a free port."
        )
    root = config.home / "kafka"
    properties = _render_kafka_config(config, root)
    logs = (root / "logs").resolve()
    logs.mkdir(parents=True, exist_ok=True)
    classpath = f"{libs}/*"
    jvm = [
        java, *_KAFKA_HEAP.split(), "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
        "-Djava.awt.headless=true", f"-Dkafka.logs.dir={logs}",
        f"-Dlog4j2.configurationFile={_HERE / 'log4j2.properties'}",
        "-cp", classpath,
    ]  # fmt: skip
    if not (root / "data" / "meta.properties").exists():
        result = subprocess.run(
            [*jvm, "kafka.tools.StorageTool", "format",
             f"--cluster-id={new_kafka_cluster_id()}", "--config", str(properties)],
            capture_output=True, text=True,
        )  # fmt: skip
        if result.returncode != 0:
            raise StartError(f"formatting Kafka storage failed:\n{result.stdout}{result.stderr}")
    proc = spawn(
        [*jvm, "kafka.Kafka", str(properties)],
        log=logs / "stdout.log",
        env=dict(os.environ),
        pid_file=pid_file(config.home, "kafka"),
    )
    _wait(
        lambda: _kafka_healthy(config),
        f"Kafka on {config.kafka_bootstrap}",
        logs / "server.log",
        lambda: proc.poll() is None,
    )


# --------------------------------------------------------------------------- MinIO

_MINIO_MARKER = "minio server"


def _minio_healthy(config: StackConfig) -> bool:
    scheme = "https" if config.s3_secure else "http"
    url = f"{scheme}://{config.s3_endpoint}/minio/health/ready"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (local URL)
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _start_minio(config: StackConfig) -> None:
    if running_pid(config.home, "minio", _MINIO_MARKER) is not None and _minio_healthy(config):
        _create_buckets(config)
        return
    binary = ensure_minio_binary(config)
    if _port_open(config.s3_host, config.s3_port):
        raise PortInUseError(
            f"{config.s3_endpoint} is taken by another process; stop it or set "
            "MOODSTREAM_S3_ENDPOINT to a free port."
        )
    root = config.home / "minio"
    (root / "data").mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "MINIO_ROOT_USER": config.s3_access_key,
        "MINIO_ROOT_PASSWORD": config.s3_secret_key,
        "MINIO_BROWSER": "on",
        "MINIO_UPDATE": "off",
    }
    cmd = [
        str(binary), "server", str((root / "data").resolve()),
        "--address", config.s3_endpoint,
        "--console-address", f"{config.s3_host}:{config.s3_console_port}",
        "--quiet",
    ]  # fmt: skip
    proc = spawn(
        cmd, log=root / "logs" / "minio.log", env=env, pid_file=pid_file(config.home, "minio")
    )
    _wait(
        lambda: _minio_healthy(config),
        f"MinIO on {config.s3_endpoint}",
        root / "logs" / "minio.log",
        lambda: proc.poll() is None,
    )
    _create_buckets(config)


def _create_buckets(config: StackConfig) -> None:
    """Create the system's buckets and turn on versioning where the config asks for it."""
    from minio import Minio
    from minio.commonconfig import ENABLED
    from minio.versioningconfig import VersioningConfig

    client = Minio(
        config.s3_endpoint,
        access_key=config.s3_access_key,
        secret_key=config.s3_secret_key,
        secure=config.s3_secure,
    )
    for bucket in config.buckets:
        if not client.bucket_exists(bucket):
            client.make_bucket(bucket)
    for bucket in config.versioned_buckets:
        client.set_bucket_versioning(bucket, VersioningConfig(ENABLED))


# --------------------------------------------------------------------------- public API


def stack_up(config: StackConfig) -> list[ServiceStatus]:
    """Build what is missing, start Kafka and MinIO (idempotent), wait until both are healthy."""
    config.home.mkdir(parents=True, exist_ok=True)
    _start_minio(config)
    _start_kafka(config)
    return stack_status(config)


def stack_down(config: StackConfig) -> list[str]:
    """Stop both servers (data stays); return the names of those that were running."""
    stopped = []
    # The demo's background worker and music site go first (they talk to both servers).
    for name, marker in (("demo-worker", "streams.cli worker"), ("demo-site", "streams.cli site")):
        if stop(config.home, name, marker):
            stopped.append(name)
    for name, marker in (("kafka", _KAFKA_MARKER), ("minio", _MINIO_MARKER)):
        if stop(config.home, name, marker):
            stopped.append(name)
    return stopped


def stack_status(config: StackConfig) -> list[ServiceStatus]:
    """What runs where, whether it answers, and its resident memory."""
    rows = []
    kafka_pid = running_pid(config.home, "kafka", _KAFKA_MARKER)
    rows.append(
        ServiceStatus(
            name="kafka",
            address=config.kafka_bootstrap,
            pid=kafka_pid,
            healthy=kafka_pid is not None and _kafka_healthy(config),
            rss_mb=rss_mb(kafka_pid) if kafka_pid else None,
            detail=f"Apache Kafka {KAFKA_VERSION} KRaft; logs {config.home / 'kafka' / 'logs'}",
        )
    )
    minio_pid = running_pid(config.home, "minio", _MINIO_MARKER)
    rows.append(
        ServiceStatus(
            name="minio",
            address=config.s3_endpoint,
            pid=minio_pid,
            healthy=minio_pid is not None and _minio_healthy(config),
            rss_mb=rss_mb(minio_pid) if minio_pid else None,
            detail=f"console http://{config.s3_host}:{config.s3_console_port}",
        )
    )
    return rows
