"""The listener events (voice clips and feedback): built in one place, checked in one place;
and the check of the track events every stage that writes a track or a card applies.

The HTTP API, :mod:`streams.client` and outside producers create the same ``VoiceClipSubmitted``
and ``UserFeedback`` records; the agents check every one they read against the same rules before
it touches a session, so a request the HTTP API refuses is also refused (dead-lettered with the
same reason) when it arrives on Kafka.

Rule for keys: the worker's own ``voice.clips.by-user`` and ``feedback.by-user`` are keyed by the
UTF-8 ``user_id`` of the payload, on the partition of the listener's session (streams.routing
forwards there whatever a producer's key was). An event there whose key differs from its
``user_id`` (written straight to the internal topic) is refused (``KeyMismatchError``), never
applied to a session it does not name.

Track events (``TrackDiscovered`` .. ``TrackClassified``) travel on internal topics, which any
client of the broker can write to until ACLs guard them. The stages do not trust them blindly
(:func:`check_track_record`): the audio must lie in the audio bucket's layout (``tracks/...``,
no ``..``), the segment matrix must be the track's own, and the metadata within its bounds. A
forged event is dead-lettered and never becomes a card.
"""

from __future__ import annotations

import math
import re
import time
import uuid

from streams.exceptions import InvalidEventError, InvalidTrackEventError, KeyMismatchError
from streams.limits import MAX_FEEDBACK_TRACKS, check_id

__all__ = [
    "clip_event",
    "feedback_event",
    "check_clip_event",
    "check_feedback_event",
    "check_track_record",
    "check_track_object_key",
    "TRACK_OBJECT_KEY",
]

#: Where track audio lives in the audio bucket: under ``tracks/``, path segments of letters,
#: digits, ``.``, ``_`` and ``-`` that do not start with a dot (so no ``..``), at most 5 deep.
TRACK_OBJECT_KEY = re.compile(
    r"tracks/(?:[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}/){0,4}[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}"
)
#: Longest title, singer, author or album (characters); control characters are refused.
MAX_METADATA_CHARS = 512
#: Longest duration a track's metadata may state (seconds).
MAX_STATED_DURATION_S = 24 * 3600.0
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

FEEDBACK_ACTIONS = ("PICK", "ABANDON")


def _now_ms() -> int:
    return int(time.time() * 1000)


def clip_event(
    user_id: str,
    *,
    audio: bytes | None = None,
    audio_key: str | None = None,
    request_id: str | None = None,
    session_id: str = "",
) -> dict:
    """A ``VoiceClipSubmitted`` record for ``user_id`` (inline ``audio`` or an ``audio_key``)."""
    if (audio is None) == (audio_key is None):
        raise InvalidEventError("a clip has exactly one of audio (bytes) and audio_key")
    return {
        "request_id": request_id or uuid.uuid4().hex,
        "user_id": user_id,
        "session_id": session_id,
        "audio": audio,
        "audio_key": audio_key,
        "codec": "auto",
        "sample_rate": None,
        "submitted_at": _now_ms(),
    }


def feedback_event(
    user_id: str,
    action: str,
    track_ids: list[str] | tuple[str, ...] = (),
    *,
    feedback_id: str | None = None,
    request_id: str | None = None,
    session_id: str = "",
) -> dict:
    """A ``UserFeedback`` record: a PICK of ``track_ids`` or an ABANDON."""
    return {
        "feedback_id": feedback_id or uuid.uuid4().hex,
        "user_id": user_id,
        "session_id": session_id,
        "request_id": request_id,
        "action": action,
        "track_ids": list(track_ids),
        "created_at": _now_ms(),
    }


def _check_key(key: bytes | None, user_id: str) -> None:
    if key != user_id.encode():
        shown = "no key" if key is None else f"the key {bytes(key[:64])!r}"
        raise KeyMismatchError(
            f"the event has {shown} but user_id {user_id!r}: key voice.clips and feedback events "
            "by the UTF-8 user id"
        )


def check_clip_event(record: dict, key: bytes | None) -> dict:
    """``record`` if its ids and key follow the contract, else :class:`InvalidEventError`."""
    check_id("user_id", record.get("user_id"))
    check_id("request_id", record.get("request_id"))
    check_id("session_id", record.get("session_id"), required=False)
    if record.get("audio") is None:
        check_id("audio_key", record.get("audio_key"))
    _check_key(key, record["user_id"])
    return record


def check_feedback_event(record: dict, key: bytes | None) -> dict:
    """``record`` if its ids, action, track ids and key follow the contract, else
    :class:`InvalidEventError` (whether the PICKed tracks were offered is the session's call)."""
    check_id("user_id", record.get("user_id"))
    check_id("feedback_id", record.get("feedback_id"))
    check_id("session_id", record.get("session_id"), required=False)
    check_id("request_id", record.get("request_id"), required=False)
    if record.get("action") not in FEEDBACK_ACTIONS:
        raise InvalidEventError(f"action must be PICK or ABANDON, not {record.get('action')!r}")
    track_ids = record.get("track_ids")
    if not isinstance(track_ids, list):
        raise InvalidEventError("track_ids must be a list of track ids")
    if len(track_ids) > MAX_FEEDBACK_TRACKS:
        raise InvalidEventError(
            f"track_ids holds {len(track_ids)} ids; the limit is {MAX_FEEDBACK_TRACKS}"
        )
    for track_id in track_ids:
        check_id("each of track_ids", track_id)
    _check_key(key, record["user_id"])
    return record


def check_track_object_key(object_key: object) -> str:
    """``object_key`` when it names track audio in the audio bucket's layout, else
    :class:`InvalidTrackEventError`."""
    if not isinstance(object_key, str) or not TRACK_OBJECT_KEY.fullmatch(object_key):
        shown = repr(object_key)[:80]
        raise InvalidTrackEventError(
            f"object_key {shown} is not track audio: keys are tracks/<name> (letters, digits, "
            "'.', '_', '-'; no segment starting with '.')"
        )
    return object_key


def check_track_record(record: dict) -> dict:
    """``record`` (a decoded track event) when its ids, object keys and metadata are within
    their bounds, else :class:`InvalidTrackEventError` saying which field is wrong."""
    track_id = check_id("track_id", record.get("track_id"))
    check_track_object_key(record.get("object_key"))
    features_key = record.get("features_key")
    if features_key is not None:
        own = f"{record.get('feature_spec')}/{track_id}.npy"
        if features_key != own:
            raise InvalidTrackEventError(
                f"features_key {str(features_key)[:80]!r} is not track {track_id!r}'s own ({own!r})"
            )
    metadata = record.get("metadata") or {}
    for field in ("title", "singer", "author", "album"):
        value = metadata.get(field, "")
        if len(value) > MAX_METADATA_CHARS:
            raise InvalidTrackEventError(
                f"metadata.{field} is {len(value)} characters; the limit is {MAX_METADATA_CHARS}"
            )
        if _CONTROL.search(value):
            raise InvalidTrackEventError(f"metadata.{field} holds control characters")
    duration = metadata.get("duration_s", 0.0)
    if not (math.isfinite(duration) and 0.0 <= duration <= MAX_STATED_DURATION_S):
        raise InvalidTrackEventError(
            f"metadata.duration_s is {duration}; it must be 0 to {MAX_STATED_DURATION_S:g} s"
        )
    return record
