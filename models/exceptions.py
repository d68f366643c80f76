"""Errors of the audio, feature and model layers."""

from __future__ import annotations

__all__ = [
    "ModelsError",
    "AudioDecodeError",
    "AudioTooLongError",
    "AudioTooShortError",
    "AudioTooLargeError",
    "FeatureParameterError",
    "DatasetError",
    "RegistryError",
    "ModelNotFoundError",
    "FeatureSpecMismatchError",
    "WorseModelError",
]


class ModelsError(Exception):
    """Root of every error raised by ``models``."""


class AudioDecodeError(ModelsError):
    """Audio is empty, truncated, corrupt or in a format we cannot decode."""


class AudioTooLongError(AudioDecodeError):
    """A clip is longer than the limit of the path it came in on."""


class FeatureParameterError(ModelsError):
    """A feature function got an argument it cannot work with (names the argument and value)."""


class DatasetError(ModelsError):
    """A labelled data folder is missing, malformed, or names audio that is not there."""


class RegistryError(ModelsError):
    """The model registry could not store or load a model."""


class ModelNotFoundError(RegistryError):
    """No model of that kind and version (or none promoted) is in the registry."""


class FeatureSpecMismatchError(RegistryError):
    """A stored model was trained on features of another spec version than this code computes."""


class AudioTooShortError(AudioDecodeError):
    """A clip is shorter than the shortest the path accepts."""


class AudioTooLargeError(AudioDecodeError):
    """Encoded audio is more bytes than the path accepts (checked before decoding)."""


class WorseModelError(RegistryError):
    """Promotion refused: the model scored below the promoted one on the same training data."""
