"""Avro single-object encoding of moodstream's events.

Every event on every topic is ``C3 01`` + the 8-byte little-endian CRC-64-AVRO fingerprint of the
writer schema's parsing canonical form + the Avro binary body (Avro 1.8+ "single-object encoding").
A reader looks the fingerprint up in its :class:`SchemaStore` to find the writer's schema, then
resolves it against its own reader schema, so writers and readers can move to a new schema
version independently wherever the schema's defaults allow it.

Faust agents and plain kafka-python producers use the same :class:`AvroCodec`; nothing else
encodes events.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import fastavro
from fastavro.schema import (
    SchemaParseException,
    fingerprint,
    load_schema,
    parse_schema,
    to_parsing_canonical_form,
)

from schemas.exceptions import SerializationError, UnknownSchemaError

__all__ = [
    "AVRO_DIR",
    "HISTORY_DIR",
    "SINGLE_OBJECT_MAGIC",
    "EventSchema",
    "SchemaStore",
    "AvroCodec",
    "default_store",
    "codec_for",
]

AVRO_DIR = Path(__file__).resolve().parent / "avro"
#: Under a schema folder: earlier versions that readers must still understand.
HISTORY_DIR = "history"
SINGLE_OBJECT_MAGIC = b"\xc3\x01"
_HEADER_LEN = len(SINGLE_OBJECT_MAGIC) + 8

#: Errors fastavro and the struct module raise on bad input; all become SerializationError.
_DECODE_ERRORS = (
    EOFError,
    ValueError,
    TypeError,
    IndexError,
    KeyError,
    UnicodeDecodeError,
    struct.error,
)


@dataclass(frozen=True)
class EventSchema:
    """One parsed schema version: its full name, parsed form and fingerprint."""

    name: str
    parsed: Any
    fingerprint: bytes
    canonical: str

    @classmethod
    def from_parsed(cls, parsed: Any) -> EventSchema:
        canonical = to_parsing_canonical_form(parsed)
        return cls(
            name=parsed["name"] if isinstance(parsed, dict) else str(parsed),
            parsed=parsed,
            fingerprint=bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO")),
            canonical=canonical,
        )


class SchemaStore:
    """Every schema version this process can read, by full name and by fingerprint.

    The store starts with the ``.avsc`` files of a folder (named types referenced across files
    are resolved by fastavro from ``<namespace>.<Name>.avsc`` beside them), and the earlier
    versions kept in its ``history`` folder (readers only). Older or newer
    versions a reader should still understand are added with :meth:`register`; the latest
    registered version of a name is the one writers use.
    """

    def __init__(self, directory: Path | None = AVRO_DIR) -> None:
        self._latest: dict[str, EventSchema] = {}
        self._by_fingerprint: dict[bytes, EventSchema] = {}
        if directory is not None:
            for path in sorted(Path(directory).glob("*.avsc")):
                try:
                    parsed = load_schema(str(path))
                except (SchemaParseException, ValueError, OSError) as exc:
                    raise SerializationError(f"schema file {path} does not parse: {exc}") from exc
                self._add(EventSchema.from_parsed(parsed))
            for path in sorted((Path(directory) / HISTORY_DIR).glob("*.avsc")):
                self._add_history(path)

    def _add_history(self, path: Path) -> None:
        """An earlier version, ``<name>.<fingerprint hex>.avsc``, standalone (its named types
        inlined as they were): readers still resolve events written with it."""
        version = self.register(path.read_text(), latest=False)
        stated = path.stem.rsplit(".", 1)[-1]
        if version.fingerprint.hex() != stated:
            raise SerializationError(
                f"{path} names fingerprint {stated} but its schema's is {version.fingerprint.hex()}"
            )

    def _add(self, schema: EventSchema) -> EventSchema:
        self._latest[schema.name] = schema
        self._by_fingerprint[schema.fingerprint] = schema
        return schema

    def register(self, schema: Mapping[str, Any] | str, *, latest: bool = True) -> EventSchema:
        """Add a schema version (dict or JSON text); named types of the store may be referenced.

        With ``latest=False`` the version is known to readers (by fingerprint) but writers of
        its name keep using the version they had.
        """
        if isinstance(schema, str):
            schema = json.loads(schema)
        named = {}
        for known in self._latest.values():
            parse_schema(known.parsed, named_schemas=named)
        try:
            parsed = parse_schema(dict(schema), named_schemas=named)
        except (SchemaParseException, ValueError, TypeError) as exc:
            raise SerializationError(f"schema does not parse: {exc}") from exc
        version = EventSchema.from_parsed(parsed)
        self._by_fingerprint[version.fingerprint] = version
        if latest or version.name not in self._latest:
            self._latest[version.name] = version
        return version

    def latest(self, name: str) -> EventSchema:
        """The version writers of ``name`` use."""
        try:
            return self._latest[name]
        except KeyError:
            raise UnknownSchemaError(
                f"no schema named {name!r}; known: {', '.join(sorted(self._latest))}"
            ) from None

    def by_fingerprint(self, fp: bytes) -> EventSchema:
        """The schema version whose CRC-64-AVRO fingerprint is ``fp``."""
        try:
            return self._by_fingerprint[fp]
        except KeyError:
            raise UnknownSchemaError(
                f"unknown writer schema fingerprint {fp.hex()}: the producer used a schema "
                "version this reader has not been given (deploy the new .avsc files to readers first)"
            ) from None


class AvroCodec:
    """Encode and decode one event type in Avro single-object encoding.

    Parameters
    ----------
    name : str
        Full name of the event's schema, e.g. ``"io.moodstream.events.TrackDiscovered"``.
    store : SchemaStore, optional
        Where writer and reader schemas come from (default: the project's ``schemas/avro``).
    reader : EventSchema, optional
        Reader schema version to resolve into (default: the store's latest of ``name``).
    """

    def __init__(
        self, name: str, store: SchemaStore | None = None, *, reader: EventSchema | None = None
    ) -> None:
        self.store = store if store is not None else default_store()
        self.schema = reader if reader is not None else self.store.latest(name)
        self._header = SINGLE_OBJECT_MAGIC + self.schema.fingerprint

    @property
    def name(self) -> str:
        return self.schema.name

    def encode(self, record: Mapping[str, Any]) -> bytes:
        """Serialise ``record``; fields with a default may be left out, unknown fields may not."""
        buf = io.BytesIO()
        buf.write(self._header)
        try:
            fastavro.schemaless_writer(buf, self.schema.parsed, record, strict_allow_default=True)
        except _DECODE_ERRORS as exc:
            raise SerializationError(f"cannot encode {self.name}: {exc}") from exc
        return buf.getvalue()

    def decode(self, data: bytes | bytearray | memoryview | None) -> dict[str, Any]:
        """Parse single-object-encoded ``data`` into a dict shaped by this codec's reader schema."""
        if data is None:
            raise SerializationError(f"expected a {self.name} event, got an empty (null) message")
        data = bytes(data)
        if len(data) < _HEADER_LEN or not data.startswith(SINGLE_OBJECT_MAGIC):
            raise SerializationError(
                f"expected a {self.name} event in Avro single-object encoding (starting C3 01), "
                f"got {len(data)} bytes starting {data[:4].hex() or '(nothing)'}"
            )
        writer = self.store.by_fingerprint(data[2:_HEADER_LEN])
        if writer.name != self.name:
            raise SerializationError(f"expected a {self.name} event, got a {writer.name} event")
        buf = io.BytesIO(data)
        buf.seek(_HEADER_LEN)
        try:
            record = fastavro.schemaless_reader(buf, writer.parsed, self.schema.parsed)
        except _DECODE_ERRORS as exc:
            raise SerializationError(f"malformed {self.name} body: {exc!r}") from exc
        except fastavro.read.SchemaResolutionError as exc:
            raise SerializationError(
                f"{self.name}: writer schema {writer.fingerprint.hex()} cannot be read as "
                f"{self.schema.fingerprint.hex()}: {exc}"
            ) from exc
        if buf.tell() != len(data):
            raise SerializationError(
                f"malformed {self.name}: {len(data) - buf.tell()} trailing bytes after the record"
            )
        return record

    __call__ = encode


@lru_cache(maxsize=1)
def default_store() -> SchemaStore:
    """The project's schemas, parsed once per process."""
    return SchemaStore()


@cache
def codec_for(name: str) -> AvroCodec:
    """The shared codec of event ``name`` (short name like ``"TrackDiscovered"`` or full name)."""
    full = name if "." in name else f"io.moodstream.events.{name}"
    return AvroCodec(full)
