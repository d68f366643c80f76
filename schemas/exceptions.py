"""Errors of the event contracts."""

from __future__ import annotations

__all__ = ["SchemaError", "SerializationError", "UnknownSchemaError"]


class SchemaError(Exception):
    """Root of every error about schemas and serialisation."""


class SerializationError(SchemaError):
    """Bytes could not be decoded, or a record could not be encoded, with the expected schema."""


class UnknownSchemaError(SerializationError):
    """The bytes name a writer schema (by fingerprint) or a schema name this process does not know."""
