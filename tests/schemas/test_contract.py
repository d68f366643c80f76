"""The published Kafka contract: the export outside clients build on, and schema evolution
checked against the versions that readers in the field still have (``schemas/avro/history``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastavro.schema import fingerprint, parse_schema, to_parsing_canonical_form

from schemas.codec import AVRO_DIR, HISTORY_DIR, AvroCodec, SchemaStore
from schemas.contract import CONTRACT, INDEX_FILE, export_contract
from schemas.topics import TOPIC_NAMES
from tests.schemas.samples import SAMPLE_EVENTS

ROOT = Path(__file__).resolve().parents[2]
CONTRACT_PAGE = ROOT / "docs" / "kafka-contract.md"
HISTORY = sorted((AVRO_DIR / HISTORY_DIR).glob("*.avsc"))


def test_the_export_holds_every_schema_and_an_index_a_client_can_match_bytes_with(
    tmp_path,
) -> None:
    index = export_contract(tmp_path)
    assert json.loads((tmp_path / INDEX_FILE).read_text()) == index
    files = {p.name for p in AVRO_DIR.glob("*.avsc")}
    assert files <= {p.name for p in tmp_path.glob("*.avsc")}
    by_name = {s["name"]: s for s in index["schemas"]}
    for entry in CONTRACT:
        assert entry.topic in by_name[entry.value_schema]["topics"]
    for name, schema in by_name.items():
        short = name.rsplit(".", 1)[-1]
        if short not in SAMPLE_EVENTS:
            continue
        # The fingerprint in the index is the one in the bytes on the topic.
        data = AvroCodec(name).encode(SAMPLE_EVENTS[short])
        assert data[2:10].hex() == schema["fingerprint"]
        # The standalone file parses alone and has the same fingerprint.
        alone = parse_schema(json.loads((tmp_path / schema["standalone_file"]).read_text()))
        assert fingerprint(to_parsing_canonical_form(alone), "CRC-64-AVRO") == schema["fingerprint"]


def test_the_export_holds_the_history_a_reader_needs_for_older_writers(tmp_path) -> None:
    """Issue 27: a Go client could not resolve events of an older writer from the export."""
    index = export_contract(tmp_path)
    assert index["history"], "schemas/avro/history holds earlier versions"
    for entry in index["history"]:
        old = parse_schema(json.loads((tmp_path / entry["file"]).read_text()))
        assert fingerprint(to_parsing_canonical_form(old), "CRC-64-AVRO") == entry["fingerprint"]
        store = SchemaStore()
        version = store.register((tmp_path / entry["file"]).read_text(), latest=False)
        sample = SAMPLE_EVENTS[entry["name"].rsplit(".", 1)[-1]]
        written = AvroCodec(entry["name"], store, reader=version).encode(
            _shaped_for(sample, version.parsed)
        )
        assert written[2:10].hex() == entry["fingerprint"]  # an old writer's bytes, found here


def test_every_topic_is_in_the_contract_once() -> None:
    assert sorted(e.topic for e in CONTRACT) == sorted(TOPIC_NAMES.values())


def test_the_contract_page_names_every_public_topic_key_and_schema() -> None:
    text = CONTRACT_PAGE.read_text()
    section = text[text.index("## Kafka contract") :]
    for entry in CONTRACT:
        if entry.public:
            assert f"`{entry.topic}`" in section, entry.topic
            assert entry.value_schema.rsplit(".", 1)[-1] in section, entry.value_schema


def test_the_readme_names_every_public_topic_and_its_schema_in_brief() -> None:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## The Kafka contract in brief") :]
    section = section[: section.index("\n## ", 1)]
    for entry in CONTRACT:
        if entry.public:
            assert f"`moodstream.{entry.topic}`" in section, entry.topic
            assert entry.value_schema in section, entry.value_schema


@pytest.mark.parametrize("path", HISTORY, ids=lambda p: p.stem)
def test_an_event_written_with_an_earlier_version_reads_with_the_latest(path: Path) -> None:
    store = SchemaStore()
    old = store.register(path.read_text(), latest=False)
    sample = SAMPLE_EVENTS[old.name.rsplit(".", 1)[-1]]
    written = AvroCodec(old.name, store, reader=old).encode(_shaped_for(sample, old.parsed))
    assert written[2:10] == old.fingerprint
    AvroCodec(old.name, store).decode(written)  # the latest reader fills the new fields in


@pytest.mark.parametrize("path", HISTORY, ids=lambda p: p.stem)
def test_an_old_reader_reads_what_the_latest_writer_writes(path: Path) -> None:
    store = SchemaStore()
    old = store.register(path.read_text(), latest=False)
    sample = SAMPLE_EVENTS[old.name.rsplit(".", 1)[-1]]
    old_codec = AvroCodec(old.name, store, reader=old)
    written = AvroCodec(old.name, store).encode(sample)
    assert written[2:10] != old.fingerprint  # written with the latest version
    # What the old reader gets equals what it would get from an old writer: the new fields
    # are left out, nothing else changes.
    as_if_old = old_codec.decode(old_codec.encode(_shaped_for(sample, old.parsed)))
    assert old_codec.decode(written) == as_if_old


def test_every_schema_in_history_is_an_earlier_version_of_a_current_event() -> None:
    current = {p.stem for p in AVRO_DIR.glob("*.avsc")}
    for path in HISTORY:
        assert path.stem.rsplit(".", 1)[0] in current, path.name


def _shaped_for(record: object, schema: object) -> object:
    """``record`` with only the fields ``schema`` (parsed) knows, recursively."""
    if isinstance(schema, dict) and schema.get("type") == "record" and isinstance(record, dict):
        return {
            f["name"]: _shaped_for(record[f["name"]], f["type"])
            for f in schema["fields"]
            if f["name"] in record
        }
    if isinstance(schema, dict) and schema.get("type") == "array" and isinstance(record, list):
        return [_shaped_for(item, schema["items"]) for item in record]
    if isinstance(schema, list):  # a union: the branch that fits
        for branch in schema:
            if branch == "null" and record is None:
                return None
            if (
                isinstance(branch, dict)
                and branch.get("type") == "record"
                and isinstance(record, dict)
            ):
                return _shaped_for(record, branch)
        return record
    return record
