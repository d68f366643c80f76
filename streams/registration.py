"""Track registration: the first stage of ingest, as a pure function.

The crawler may announce a track more than once (a crash between storing the audio and the
acknowledgement, a replayed topic). Registration keeps the first announcement of each track id
and forwards only that one, so every later stage sees each track once.
"""

from __future__ import annotations

from typing import Any

__all__ = ["registration_for"]


def registration_for(
    existing: dict[str, Any] | None, event: dict[str, Any]
) -> dict[str, Any] | None:
    """The table entry to store for ``event``, or ``None`` when the track is already registered.

    Parameters
    ----------
    existing : dict or None
        The ``tracks`` table's current entry for the event's track id.
    event : dict
        A decoded ``TrackDiscovered`` event.
    """
    if existing is not None:
        return None
    return {"status": "registered", "discovered": event}
