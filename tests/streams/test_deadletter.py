"""The dead-letter records themselves (streams.deadletter): what a client and an operator read."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from schemas.codec import codec_for
from streams.deadletter import DeadLetterPolicy, request_id_of
from streams.events import clip_event, feedback_event
from streams.record_batches import SkippedBatch


@dataclass
class _Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


def test_a_refused_clip_s_letter_names_its_request_id() -> None:
    """Issue 27: a client waiting for a refused request had to decode the payload (and could
    not, past 1 MB) to learn which request it was."""
    clip = codec_for("VoiceClipSubmitted").encode(
        clip_event("ann", audio=b"x" * 10, request_id="r-9")
    )
    record = DeadLetterPolicy.record_for(
        _Message("p.voice.clips", 1, 7, b"ann", clip), ValueError("no"), service="recommend"
    )
    assert record["request_id"] == "r-9" and record["source_last_offset"] is None
    codec_for("DeadLetter").encode(record)  # the record fits the schema


def test_request_ids_come_only_from_clips() -> None:
    big = codec_for("VoiceClipSubmitted").encode(
        clip_event("a", audio=bytes(9 * 2**20), request_id="r-3")
    )
    assert request_id_of(big) == "r-3"
    feedback = codec_for("UserFeedback").encode(feedback_event("ann", "ABANDON", request_id="r-2"))
    assert request_id_of(feedback) is None  # nobody waits for a feedback's answer
    assert request_id_of(b"garbage") is None
    assert request_id_of(b"\xc3\x01" + bytes(8) + b"junk") is None  # unknown fingerprint
    assert request_id_of(None) is None


def test_a_skipped_batch_s_letter_names_its_offsets_and_no_payload() -> None:
    skipped = SkippedBatch("p.voice.clips", 2, 40, 44, "BatchTooLargeError", "too big")
    record = DeadLetterPolicy.record_for_batch(skipped, service="w consumer")
    assert (record["source_offset"], record["source_last_offset"]) == (40, 44)
    assert record["payload"] is None and record["key"] is None
    assert "offsets 40..44" in record["message"]
    codec_for("DeadLetter").encode(record)


@pytest.mark.asyncio
async def test_an_event_read_again_is_dead_lettered_once(test_app, letters) -> None:
    """Issue 27: one refused 2 MiB clip produced two identical dead letters (read again after
    a seek back, it failed again)."""
    policy = test_app.moodstream.dead_letters
    message = _Message("p.voice.clips", 0, 12, b"ann", b"bad")
    await policy.send(message, ValueError("bad"), service="recommend")
    await policy.send(message, ValueError("bad"), service="recommend")
    await policy.send(
        _Message("p.voice.clips", 0, 13, b"ann", b"bad"), ValueError("bad"), service="recommend"
    )
    assert [letter["source_offset"] for letter in letters] == [12, 13]
