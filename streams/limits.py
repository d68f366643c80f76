"""The bounds that keep one client from exhausting a worker, in one place.

They hold on every path: the HTTP API refuses a request that breaks one (400/413, with the
reason) before anything reaches Kafka, and the agents dead-letter a Kafka event that breaks one.
The "Limits" paragraph of docs/pipeline.md lists them.
"""

from __future__ import annotations

from streams.exceptions import InvalidEventError

__all__ = [
    "MAX_ID_CHARS",
    "MAX_FEEDBACK_TRACKS",
    "MAX_FEEDBACK_BODY_BYTES",
    "MAX_JSON_DEPTH",
    "MAX_FEEDBACK_EVENT_BYTES",
    "check_id",
    "check_event_size",
]

#: Longest user, request, feedback, session or track id (characters).
MAX_ID_CHARS = 128
#: Most track ids one PICK may name (a playlist holds at most a handful).
MAX_FEEDBACK_TRACKS = 50
#: Largest JSON body of ``POST /api/feedback`` (bytes).
MAX_FEEDBACK_BODY_BYTES = 64 * 1024
#: Deepest nesting accepted in a JSON request body.
MAX_JSON_DEPTH = 8
#: Largest encoded ``UserFeedback`` event on Kafka (bytes). The largest valid one (every id at
#: its longest, ``MAX_FEEDBACK_TRACKS`` track ids) is under 8 KiB; anything bigger is refused
#: before it is decoded, which would hold the interpreter for as long as the event is large.
MAX_FEEDBACK_EVENT_BYTES = 64 * 1024


def check_event_size(what: str, size: int, limit: int) -> None:
    """Refuse an encoded event of ``size`` bytes over ``limit`` before decoding it."""
    if size > limit:
        raise InvalidEventError(
            f"the {what} event is {size} bytes; the limit is {limit} (refused undecoded)"
        )


def check_id(name: str, value: object, *, required: bool = True) -> str:
    """``value`` as an id, or :class:`InvalidEventError` naming ``name`` and what is wrong.

    An id is a non-empty string of at most ``MAX_ID_CHARS`` characters; ``required=False``
    also accepts None and "" (returned as "").
    """
    if value is None or value == "":
        if required:
            raise InvalidEventError(f"{name} is required (a non-empty string)")
        return ""
    if not isinstance(value, str):
        raise InvalidEventError(f"{name} must be a string, not {type(value).__name__}")
    if len(value) > MAX_ID_CHARS:
        raise InvalidEventError(
            f"{name} is {len(value)} characters long; the limit is {MAX_ID_CHARS}"
        )
    return value
