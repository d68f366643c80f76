"""Errors of the stream processing service.

Each is raised for one event or one request; agents send the event to the dead-letter topic
with the message, and the HTTP API answers with it (400 or 413). The messages say what to change.
"""

from __future__ import annotations

__all__ = [
    "StreamsError",
    "InvalidEventError",
    "KeyMismatchError",
    "InvalidTrackEventError",
    "FeedbackRefusedError",
    "StateTooLargeError",
    "TrackAudioMissingError",
    "ListenerBusyError",
    "ClipReaderCrashedError",
    "ClipReadTimeoutError",
    "ConfigurationError",
]


class StreamsError(Exception):
    """Root of every error raised by moodstream's stream agents and views."""


class InvalidEventError(StreamsError):
    """An event or request field breaks the contract (type, length, count): fix the producer."""


class KeyMismatchError(InvalidEventError):
    """A voice clip or feedback whose Kafka key is not its UTF-8 ``user_id``."""


class InvalidTrackEventError(InvalidEventError):
    """A track event on an internal topic whose object keys or metadata break the audio
    bucket's layout or their bounds (a forged or corrupt event): it never becomes a card."""


class FeedbackRefusedError(InvalidEventError):
    """A PICK names tracks that were never offered to that listener, or too many of them."""


class StateTooLargeError(StreamsError):
    """A table value would exceed its size bound; it is refused instead of being written."""


class TrackAudioMissingError(InvalidEventError):
    """A track event names audio that is not in the audio bucket (the served music model reads
    the audio itself, not only the segment matrix)."""


class ListenerBusyError(StreamsError):
    """A listener sent more clips than a worker answers for one listener in a time window: the
    clip is refused undecoded (dead-lettered with its payload; send it again later), so one
    listener's burst cannot hold up everyone else's answers."""


class ClipReaderCrashedError(StreamsError):
    """The child process reading a voice clip died before it finished (streams.clip_readers):
    the clip is dead-lettered with this reason, and the worker goes on with a fresh reader."""


class ClipReadTimeoutError(StreamsError):
    """A clip reader took longer than ``clip_read_timeout_s`` over one clip (a decoder that
    hangs on a hostile file): the reader is killed and replaced, the clip dead-lettered."""


class ConfigurationError(StreamsError, ValueError):
    """Settings that cannot work, or would be unsafe (the message names the variable to set)."""
