"""What the local stack needs to know: where its state lives and where each server listens."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["StackConfig"]


@dataclass(frozen=True)
class StackConfig:
    """The local Kafka + MinIO stack; ``streams.settings.Settings.stack`` builds it."""

    home: Path
    """State folder: Kafka log dirs, MinIO data, pid files and logs."""
    cache: Path
    """Build cache shared by every clone on the machine: Kafka jars and the MinIO binary."""
    kafka_bootstrap: str
    """``host:port`` the broker listens on."""
    kafka_controller_port: int
    """KRaft controller port of the single-node broker."""
    s3_endpoint: str
    """``host:port`` of MinIO's S3 API."""
    s3_console_port: int
    """Port of MinIO's web console."""
    s3_access_key: str
    s3_secret_key: str = field(repr=False)
    s3_secure: bool = False
    buckets: tuple[str, ...] = ()
    """Buckets created at start."""
    versioned_buckets: tuple[str, ...] = ()
    """Buckets that keep every version of an object (the crawled audio: the paper's backup)."""

    @property
    def kafka_host(self) -> str:
        return self.kafka_bootstrap.rsplit(":", 1)[0]

    @property
    def kafka_port(self) -> int:
        return int(self.kafka_bootstrap.rsplit(":", 1)[1])

    @property
    def s3_host(self) -> str:
        return self.s3_endpoint.rsplit(":", 1)[0]

    @property
    def s3_port(self) -> int:
        return int(self.s3_endpoint.rsplit(":", 1)[1])
