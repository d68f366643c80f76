"""Where the object store is, and a client for it.

The lower layers (``models``, ``crawler``) take an :class:`ObjectStore` rather than the whole
process configuration; ``streams.settings.Settings.object_store`` builds it from the environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from minio import Minio

__all__ = ["ObjectStore", "minio_client"]


@dataclass(frozen=True)
class ObjectStore:
    """An S3 endpoint (MinIO locally) and its credentials."""

    endpoint: str
    """``host:port`` of the S3 API."""
    access_key: str
    secret_key: str = field(repr=False)
    secure: bool = False
    """Whether to speak TLS."""
    region: str = "us-east-1"
    """The store's region (MinIO's default): known up front, the client never asks for it, and
    signs URLs without a request."""


def minio_client(store: ObjectStore) -> Minio:
    """An S3 client for ``store``."""
    from minio import Minio

    return Minio(
        store.endpoint,
        access_key=store.access_key,
        secret_key=store.secret_key,
        secure=store.secure,
        region=store.region,
    )
