"""Clients outside moodstream's code, for the Kafka interop tests: a Java client built here
with Maven and javac, and librdkafka's partitioner."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import zlib
from pathlib import Path

from deploy.local.stack import copy_maven_dependencies

__all__ = ["JAVA_CLIENT_DIR", "java_client_command", "librdkafka_partition"]

JAVA_CLIENT_DIR = Path(__file__).resolve().parents[1] / "interop" / "java"


def java_client_command(cache: Path, classes: Path) -> list[str]:
    """The command that runs ``MoodstreamClient.java``: its classpath (``pom.xml``: kafka-clients,
    avro) resolved from Maven Central into ``cache`` once per pom, the client compiled into
    ``classes``."""
    for tool in ("javac", "java"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is not on PATH: the Java interop test needs a JDK")
    pom = JAVA_CLIENT_DIR / "pom.xml"
    libs = copy_maven_dependencies(
        pom,
        cache / f"interop-java-{hashlib.sha256(pom.read_bytes()).hexdigest()[:12]}",
        what="the Java interop client's classpath",
    )
    classes.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["javac", "-d", str(classes), "-cp", f"{libs}/*",
         str(JAVA_CLIENT_DIR / "MoodstreamClient.java")],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return ["java", "-cp", f"{classes}:{libs}/*", "MoodstreamClient"]


def librdkafka_partition(key: bytes, partitions: int) -> int:
    """Where librdkafka's default partitioner (``consistent_random``) puts a keyed message."""
    return zlib.crc32(key) % partitions
