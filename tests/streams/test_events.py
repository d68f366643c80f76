"""Listener events and HTTP request bodies: checked the same way on every path (issue 15, item 7)."""

from __future__ import annotations

import asyncio
import json

import pytest

from streams.events import check_clip_event, check_feedback_event, clip_event, feedback_event
from streams.exceptions import ConfigurationError, InvalidEventError, KeyMismatchError
from streams.settings import Settings
from streams.views import RefusedByWorker, ReplyWaiter, RequestRefused, parse_feedback_body


def test_events_keyed_by_another_user_or_by_nothing_are_refused() -> None:
    clip = clip_event("ann", audio=b"RIFF")
    assert check_clip_event(clip, b"ann") is clip
    for key in (b"bob", None):
        with pytest.raises(KeyMismatchError, match="key voice.clips and feedback events"):
            check_clip_event(clip, key)
    with pytest.raises(KeyMismatchError):
        check_feedback_event(feedback_event("ann", "ABANDON"), b"mallory")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"user_id": ""}, "user_id is required"),
        ({"feedback_id": 7}, "feedback_id must be a string"),
        ({"request_id": "r" * 129}, "request_id is 129 characters long; the limit is 128"),
        ({"action": "LIKE"}, "action must be PICK or ABANDON"),
        ({"track_ids": "abc"}, "track_ids must be a list"),
        ({"track_ids": ["t"] * 51}, "track_ids holds 51 ids; the limit is 50"),
        ({"track_ids": [3]}, "each of track_ids must be a string"),
    ],
)
def test_feedback_events_that_break_the_contract_are_refused(change: dict, message: str) -> None:
    event = {**feedback_event("ann", "PICK", ["t1"]), **change}
    with pytest.raises(InvalidEventError, match=message):
        check_feedback_event(event, b"ann")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "the body is not JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"user_id": null, "action": "ABANDON"}', "user_id is required"),
        (b'{"user_id": "ann", "action": "PICK", "track_ids": "abc"}', "track_ids must be a JSON list"),
        (b'{"user_id": "ann", "action": "PICK", "feedback_id": 5}', "feedback_id must be a string"),
        (b'{"user_id": "ann", "action": "PICK", "request_id": {"a": 1}}', "request_id must be a string"),
        (b'{"user_id": "ann", "action": 3}', "action must be the string"),
        (b'{"user_id": "ann", "action": "ABANDON", "x": ' + b"[" * 20 + b"]" * 20 + b"}", "nested deeper"),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
        (json.dumps({"user_id": "ann", "action": "PICK", "track_ids": ["t"] * 37_000}).encode(), "limit is 50"),
    ],
)  # fmt: skip
def test_malformed_feedback_bodies_are_400_with_the_reason(body: bytes, message: str) -> None:
    with pytest.raises(RequestRefused, match=message) as refused:
        parse_feedback_body(body)
    assert refused.value.code == 400


def test_a_good_feedback_body_becomes_the_event_the_agent_accepts() -> None:
    body = b'{"user_id": "ann", "action": "pick", "track_ids": ["t1", "t2"], "request_id": "r1"}'
    event = parse_feedback_body(body)
    assert (event["user_id"], event["action"], event["track_ids"]) == ("ann", "PICK", ["t1", "t2"])
    assert event["request_id"] == "r1" and event["feedback_id"]


@pytest.mark.asyncio
async def test_a_request_that_times_out_leaves_no_future_behind() -> None:
    waiter = ReplyWaiter(Settings(), "unused")
    with pytest.raises(asyncio.TimeoutError):
        async with waiter.expecting("ann", "r1") as future:
            assert waiter.pending == 1
            await asyncio.wait_for(future, timeout=0.01)
    assert waiter.pending == 0


@pytest.mark.asyncio
async def test_an_answer_goes_to_its_listener_s_callers_only() -> None:
    """Issue 27: answers were matched by request id alone; two listeners who chose the same
    id got one answer between them, possibly the other's."""
    waiter = ReplyWaiter(Settings(), "unused")
    async with (
        waiter.expecting("ann", "r1") as ann,
        waiter.expecting("bob", "r1") as bob,
        waiter.expecting("bob", "r1") as bob_again,
    ):
        waiter.deliver({"user_id": "bob", "request_id": "r1", "emotion": "sad"})
        assert (await bob)["emotion"] == "sad" and (await bob_again)["emotion"] == "sad"
        assert not ann.done()
        waiter.deliver({"user_id": "ann", "request_id": "r1", "emotion": "calm"})
        assert (await ann)["emotion"] == "calm"
    assert waiter.pending == 0


@pytest.mark.asyncio
async def test_a_dead_letter_of_a_waiting_request_ends_the_wait_with_its_reason() -> None:
    """Issue 27: over the listener limit an HTTP caller waited 20 s for a 504."""
    waiter = ReplyWaiter(Settings(), "unused")
    async with waiter.expecting("ann", "r1") as ann, waiter.expecting("bob", "r1") as bob:
        waiter.refuse({"key": b"ann", "request_id": "r1", "error_kind": "ListenerBusyError",
                       "message": "send it again later"})  # fmt: skip
        with pytest.raises(RefusedByWorker, match="ListenerBusyError") as caught:
            await ann
        assert caught.value.message == "send it again later"
        waiter.refuse({"key": b"bob", "request_id": None, "error_kind": "X", "message": ""})
        assert not bob.done()  # a letter without a request id ends no wait


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "example.org"])
def test_an_api_exposed_beyond_loopback_needs_a_token(host: str) -> None:
    with pytest.raises(ConfigurationError, match="set MOODSTREAM_API_TOKEN"):
        Settings(web_host=host).check_exposure()
    Settings(web_host=host, api_token="s3cret").check_exposure()
    for loopback in ("127.0.0.1", "localhost", "::1"):
        Settings(web_host=loopback).check_exposure()


def test_the_app_binds_to_the_configured_host_and_closes_idle_connections(tmp_path) -> None:
    from streams.app import create_app

    app = create_app(Settings(store="memory://", home=tmp_path, web_idle_timeout_s=7.0))
    assert app.conf.web_bind == "127.0.0.1"
    assert app.web._runner._kwargs["keepalive_timeout"] == 7.0  # noqa: SLF001
    with pytest.raises(ConfigurationError):
        create_app(Settings(store="memory://", home=tmp_path, web_host="0.0.0.0"))


def test_global_tables_live_in_memory_whatever_the_app_store(tmp_path) -> None:
    """Item 2: they are rebuilt from their changelogs at every start, never served from a
    RocksDB copy filed under another partition."""
    from faust.stores.memory import Store as MemoryStore
    from faust.stores.rocksdb import Store as RocksStore

    from streams.app import create_app

    tables = create_app(Settings(store="rocksdb://", home=tmp_path)).moodstream.tables
    assert isinstance(tables.cards.data, MemoryStore)
    assert isinstance(tables.sessions.data, RocksStore)
