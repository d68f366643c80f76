"""The event contracts: every schema round-trips, versions evolve, bad bytes raise one error."""

from __future__ import annotations

import copy
import json

import pytest

from schemas.codec import (
    AVRO_DIR,
    SINGLE_OBJECT_MAGIC,
    AvroCodec,
    SchemaStore,
    codec_for,
    default_store,
)
from schemas.exceptions import SerializationError, UnknownSchemaError
from tests.schemas.samples import SAMPLE_EVENTS

EVENT_NAMES = sorted(SAMPLE_EVENTS)


def test_every_event_schema_has_a_sample() -> None:
    events = {p.stem.rsplit(".", 1)[1] for p in AVRO_DIR.glob("io.moodstream.events.*.avsc")}
    assert events == set(SAMPLE_EVENTS)
    for name in events:
        assert default_store().latest(f"io.moodstream.events.{name}") is not None


@pytest.mark.parametrize("name", EVENT_NAMES)
def test_round_trip(name: str) -> None:
    codec = codec_for(name)
    data = codec.encode(SAMPLE_EVENTS[name])
    assert data[:2] == SINGLE_OBJECT_MAGIC
    assert data[2:10] == codec.schema.fingerprint
    decoded = codec.decode(data)
    # Fields left out fall back to the schema's defaults; every given field comes back as given.
    for key, value in SAMPLE_EVENTS[name].items():
        assert decoded[key] == value


def test_fingerprint_is_the_avro_spec_crc64_little_endian() -> None:
    # Avro spec test vector: parsingFingerprint64("int") == 8247732601305521295, written
    # little-endian after the C3 01 marker.
    from fastavro.schema import parse_schema

    from schemas.codec import EventSchema

    assert EventSchema.from_parsed(parse_schema("int")).fingerprint == (
        8247732601305521295
    ).to_bytes(8, "little")


def test_defaults_fill_left_out_fields() -> None:
    codec = codec_for("VoiceClipSubmitted")
    decoded = codec.decode(
        codec.encode({"request_id": "r", "user_id": "u", "audio": b"x", "submitted_at": 1})
    )
    assert (
        decoded["session_id"] == "" and decoded["codec"] == "auto" and decoded["audio_key"] is None
    )


def test_unknown_field_is_refused() -> None:
    with pytest.raises(SerializationError, match="more fields"):
        codec_for("UserFeedback").encode({**SAMPLE_EVENTS["UserFeedback"], "mood": "x"})


def test_missing_required_field_is_refused() -> None:
    record = dict(SAMPLE_EVENTS["DeadLetter"])
    del record["source_topic"]
    with pytest.raises(SerializationError, match="source_topic"):
        codec_for("DeadLetter").encode(record)


# ---------------------------------------------------------------- malformed input


@pytest.mark.parametrize(
    "data, match",
    [
        (b"", "single-object"),
        (b"\xc3\x01\x00", "single-object"),
        (b'{"json": "not avro"}', "single-object"),
        (None, "null"),
    ],
)
def test_malformed_bytes_raise_serialization_error(data, match) -> None:
    with pytest.raises(SerializationError, match=match):
        codec_for("TrackDiscovered").decode(data)


def test_unknown_fingerprint_raises_unknown_schema_error() -> None:
    data = SINGLE_OBJECT_MAGIC + b"\x01" * 8 + b"\x00"
    with pytest.raises(UnknownSchemaError, match="unknown writer schema fingerprint 0101"):
        codec_for("TrackDiscovered").decode(data)


def test_truncated_body_raises() -> None:
    data = codec_for("TrackDiscovered").encode(SAMPLE_EVENTS["TrackDiscovered"])
    with pytest.raises(SerializationError, match="malformed"):
        codec_for("TrackDiscovered").decode(data[:-7])


def test_trailing_garbage_raises() -> None:
    data = codec_for("UserFeedback").encode(SAMPLE_EVENTS["UserFeedback"])
    with pytest.raises(SerializationError, match="trailing"):
        codec_for("UserFeedback").decode(data + b"\x00\x01")


def test_other_event_type_is_refused() -> None:
    data = codec_for("UserFeedback").encode(SAMPLE_EVENTS["UserFeedback"])
    with pytest.raises(SerializationError, match="got a io.moodstream.events.UserFeedback"):
        codec_for("DeadLetter").decode(data)


# ---------------------------------------------------------------- evolution

_V1 = {
    "type": "record",
    "name": "Probe",
    "namespace": "io.moodstream.test",
    "fields": [{"name": "id", "type": "string"}, {"name": "score", "type": "double"}],
}


def _v2() -> dict:
    v2 = copy.deepcopy(_V1)
    v2["fields"].append({"name": "tag", "type": "string", "default": "none"})
    return v2


def _codecs() -> tuple[AvroCodec, AvroCodec]:
    """An old and a new codec of one record, over one store that knows both versions."""
    store = SchemaStore(directory=None)
    v1 = store.register(_V1)
    v2 = store.register(_v2())
    return AvroCodec(v1.name, store, reader=v1), AvroCodec(v2.name, store, reader=v2)


def test_old_writer_new_reader_gets_the_default() -> None:
    old, new = _codecs()
    assert new.decode(old.encode({"id": "a", "score": 0.5})) == {
        "id": "a",
        "score": 0.5,
        "tag": "none",
    }


def test_new_writer_old_reader_ignores_the_new_field() -> None:
    old, new = _codecs()
    assert old.decode(new.encode({"id": "a", "score": 0.5, "tag": "x"})) == {
        "id": "a",
        "score": 0.5,
    }


def test_incompatible_change_is_reported() -> None:
    store = SchemaStore(directory=None)
    v1 = store.register(_V1)
    v3 = copy.deepcopy(_V1)
    v3["fields"].append({"name": "required_new", "type": "string"})  # no default
    v3 = store.register(v3)
    with pytest.raises(SerializationError, match="cannot be read"):
        AvroCodec(v3.name, store, reader=v3).decode(
            AvroCodec(v1.name, store, reader=v1).encode({"id": "a", "score": 1.0})
        )


def test_register_accepts_json_text_and_refuses_bad_schema() -> None:
    store = SchemaStore(directory=None)
    assert store.register(json.dumps(_V1)).name == "io.moodstream.test.Probe"
    with pytest.raises(SerializationError, match="does not parse"):
        store.register({"type": "record", "name": "Bad", "fields": [{"name": "x", "type": "nope"}]})


def test_project_schema_evolves_with_store_registration() -> None:
    """A reader given a newer TrackDiscovered (extra defaulted field) reads the current one."""
    store = SchemaStore()
    current = store.latest("io.moodstream.events.TrackDiscovered")
    newer = copy.deepcopy(current.parsed)
    newer["fields"].append({"name": "bpm", "type": ["null", "double"], "default": None})
    newer_version = store.register(newer)
    data = AvroCodec(current.name, store, reader=current).encode(SAMPLE_EVENTS["TrackDiscovered"])
    decoded = AvroCodec(current.name, store, reader=newer_version).decode(data)
    assert (
        decoded["bpm"] is None
        and decoded["track_id"] == SAMPLE_EVENTS["TrackDiscovered"]["track_id"]
    )


def test_the_emotion_constant_matches_the_avro_enum() -> None:
    import json

    from schemas.codec import AVRO_DIR
    from schemas.emotions import EMOTIONS

    enum = json.loads((AVRO_DIR / "io.moodstream.Emotion.avsc").read_text())
    assert tuple(enum["symbols"]) == EMOTIONS
