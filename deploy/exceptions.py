"""Errors of the deployment tooling."""

from __future__ import annotations

__all__ = ["DeployError", "MissingToolError", "BuildError", "StartError", "PortInUseError"]


class DeployError(Exception):
    """Root of every error raised while building, starting or stopping the local stack."""


class MissingToolError(DeployError):
    """A program the stack needs (java, mvn, go) is not on PATH."""


class BuildError(DeployError):
    """Building the Kafka classpath or the MinIO binary failed."""


class StartError(DeployError):
    """A server did not come up healthy in time."""


class PortInUseError(StartError):
    """Another process already listens on a port the stack needs."""
