"""Errors of the stream processing service."""

from __future__ import annotations

__all__ = ["StreamsError", "UnknownTrackError"]


class StreamsError(Exception):
    """Root of every error raised by moodstream's stream agents and views."""


class UnknownTrackError(StreamsError):
    """An event names a track the catalog does not hold."""
