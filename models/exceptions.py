"""Errors of the audio, feature and model layers."""

from __future__ import annotations

__all__ = [
    "ModelsError",
    "AudioDecodeError",
    "AudioTooLongError",
    "FeatureParameterError",
]


class ModelsError(Exception):
    """Root of every error raised by ``models``."""


class AudioDecodeError(ModelsError):
    """Audio is empty, truncated, corrupt or in a format we cannot decode."""


class AudioTooLongError(AudioDecodeError):
    """A clip is longer than the limit of the path it came in on."""


class FeatureParameterError(ModelsError):
    """A feature function got an argument it cannot work with (names the argument and value)."""
