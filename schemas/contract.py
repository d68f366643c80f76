"""The Kafka contract for clients outside moodstream: per topic, its key, value schema, who
produces and who consumes it; and ``export`` of the schemas with a JSON index.

This table is the one place the contract is written down in code; the README's "Kafka
contract" section says the same in prose, and a test keeps the two (and :data:`TOPIC_NAMES`)
in step.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from schemas.codec import AVRO_DIR, HISTORY_DIR, SINGLE_OBJECT_MAGIC, default_store
from schemas.topics import TOPIC_NAMES

__all__ = ["TopicContract", "CONTRACT", "INDEX_FILE", "export_contract"]

#: The index ``export_contract`` writes beside the ``.avsc`` files.
INDEX_FILE = "index.json"


@dataclass(frozen=True)
class TopicContract:
    """What one topic carries and who uses it."""

    topic: str
    """Short name; the full name is ``<MOODSTREAM_TOPIC_PREFIX>.<topic>``."""
    key: str
    value_schema: str
    """Full name of the Avro record schema of every value (single-object encoded)."""
    producers: str
    consumers: str
    public: bool
    """True where outside clients produce or consume; False for the worker's own stages."""


CONTRACT: tuple[TopicContract, ...] = (
    TopicContract(
        "voice.clips", "user id (UTF-8)", "io.moodstream.events.VoiceClipSubmitted",
        "client services; the HTTP API", "the worker (recommend)", True,
    ),
    TopicContract(
        "feedback", "user id (UTF-8)", "io.moodstream.events.UserFeedback",
        "client services; the HTTP API", "the worker (route_feedback)", True,
    ),
    TopicContract(
        "recommendations", "user id (UTF-8)", "io.moodstream.events.Recommendation",
        "the worker", "client services (match request_id); the HTTP API", True,
    ),
    TopicContract(
        "tracks.labelled", "track id (UTF-8)", "io.moodstream.events.TrackLabelled",
        "the worker (themes)", "the worker (catalog); catalog mirrors", True,
    ),
    TopicContract(
        "deadletters", "the failed event's own key", "io.moodstream.events.DeadLetter",
        "the worker", "operators", True,
    ),
    TopicContract(
        "voice.clips.by-user", "user id (UTF-8), on the session's partition",
        "io.moodstream.events.VoiceClipSubmitted", "the worker (recommend: misplaced clips)",
        "the worker (recommend)", False,
    ),
    TopicContract(
        "feedback.by-user", "user id (UTF-8), on the session's partition",
        "io.moodstream.events.UserFeedback", "the worker (route_feedback)",
        "the worker (learn)", False,
    ),
    TopicContract(
        "tracks.discovered", "track id (UTF-8)", "io.moodstream.events.TrackDiscovered",
        "the crawler (transactions)", "the worker (register)", False,
    ),
    TopicContract(
        "tracks.registered", "track id (UTF-8)", "io.moodstream.events.TrackDiscovered",
        "the worker (register)", "the worker (features)", False,
    ),
    TopicContract(
        "tracks.features", "track id (UTF-8)", "io.moodstream.events.TrackFeaturesReady",
        "the worker (features)", "the worker (label)", False,
    ),
    TopicContract(
        "tracks.classified", "emotion name, on the emotion's own partition",
        "io.moodstream.events.TrackClassified", "the worker (label)", "the worker (themes)", False,
    ),
)  # fmt: skip


def _inline(schema: object, defined: set[str]) -> object:
    """``schema`` (raw JSON) with each reference to one of the project's named types replaced by
    that type's definition at its first use (Avro allows a name only after its definition)."""
    if isinstance(schema, str):
        path = AVRO_DIR / f"{schema}.avsc"
        if schema in defined or not path.exists():
            return schema  # a primitive, or a name defined earlier in the schema
        defined.add(schema)
        return _inline(json.loads(path.read_text()), defined)
    if isinstance(schema, list):
        return [_inline(branch, defined) for branch in schema]
    if isinstance(schema, dict):
        out = dict(schema)
        if out.get("type") in ("record", "enum", "fixed") and "name" in out:
            namespace = out.get("namespace")
            name = out["name"]
            defined.add(f"{namespace}.{name}" if namespace and "." not in name else name)
        if "fields" in out:
            out["fields"] = [{**f, "type": _inline(f["type"], defined)} for f in out["fields"]]
        for part in ("items", "values"):
            if part in out:
                out[part] = _inline(out[part], defined)
        if isinstance(out.get("type"), dict | list):
            out["type"] = _inline(out["type"], defined)
        return out
    return schema


def export_contract(directory: Path) -> dict:
    """Write every ``.avsc`` of the project and ``index.json`` into ``directory``; return the index.
    Each event schema is also written whole (``<name>.standalone.avsc``, the named types it uses
    inlined), for clients that parse one file per schema.

    The index lists every schema (full name, file, CRC-64-AVRO fingerprint of its parsing
    canonical form as 16 hex digits, the topics that carry it) and every topic (its contract).
    A reader of single-object-encoded bytes takes bytes 2..10 (little-endian) as the
    fingerprint and looks it up here, in ``schemas`` or, for an older writer, in ``history``
    (earlier versions, standalone, copied into ``history/``).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    store = default_store()
    topics_of: dict[str, list[str]] = {}
    for entry in CONTRACT:
        topics_of.setdefault(entry.value_schema, []).append(entry.topic)
    schemas = []
    for path in sorted(AVRO_DIR.glob("*.avsc")):
        shutil.copyfile(path, directory / path.name)
        name = path.stem
        schema = store.latest(name)
        entry = {
            "name": name,
            "file": path.name,
            "fingerprint": schema.fingerprint.hex(),
            "topics": topics_of.get(name, []),
        }
        if name in topics_of:  # an event: also whole, its named types inlined, for one parse
            standalone = f"{name}.standalone.avsc"
            whole = _inline(json.loads(path.read_text()), set())
            (directory / standalone).write_text(json.dumps(whole, indent=2) + "\n")
            entry["standalone_file"] = standalone
        schemas.append(entry)
    history = []
    (directory / HISTORY_DIR).mkdir(exist_ok=True)
    for path in sorted((AVRO_DIR / HISTORY_DIR).glob("*.avsc")):
        shutil.copyfile(path, directory / HISTORY_DIR / path.name)
        name, fingerprint_hex = path.stem.rsplit(".", 1)
        history.append(
            {"name": name, "file": f"{HISTORY_DIR}/{path.name}", "fingerprint": fingerprint_hex}
        )
    index = {
        "encoding": (
            f"Avro single-object encoding: {SINGLE_OBJECT_MAGIC.hex()} + 8-byte little-endian "
            "CRC-64-AVRO fingerprint + Avro binary body"
        ),
        "topic_name": "<MOODSTREAM_TOPIC_PREFIX>.<topic> (prefix 'moodstream' by default)",
        "fingerprint_bytes": "as on the wire: bytes 2..9 of an event, the little-endian bytes "
        "of the CRC-64-AVRO value",
        "schemas": schemas,
        "history": history,
        "topics": [asdict(entry) for entry in CONTRACT],
    }
    (directory / INDEX_FILE).write_text(json.dumps(index, indent=2) + "\n")
    return index


def _check_contract_covers_every_topic() -> None:
    missing = set(TOPIC_NAMES.values()) - {entry.topic for entry in CONTRACT}
    if missing:  # an import-time error: a new topic must enter the contract
        raise RuntimeError(
            f"topics without a contract entry in schemas.contract: {sorted(missing)}"
        )


_check_contract_covers_every_topic()
