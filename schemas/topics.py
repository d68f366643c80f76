"""Every Kafka topic moodstream reads or writes: its short name, part of the event contract.

The full name of a topic is ``<prefix>.<short name>``; the prefix isolates deployments and test
runs (``MOODSTREAM_TOPIC_PREFIX``). Values on every topic are Avro single-object-encoded bytes
(:mod:`schemas.codec`); keys are UTF-8 ids.
"""

from __future__ import annotations

__all__ = ["TOPIC_NAMES", "topic_name"]

#: Attribute name (as the Faust app declares it) -> short topic name.
TOPIC_NAMES: dict[str, str] = {
    "track_discovered": "tracks.discovered",
    "track_registered": "tracks.registered",
    "track_features": "tracks.features",
    "track_classified": "tracks.classified",
    "track_labelled": "tracks.labelled",
    "voice_clips": "voice.clips",
    "recommendations": "recommendations",
    "feedback": "feedback",
    "voice_clips_by_user": "voice.clips.by-user",
    "feedback_by_user": "feedback.by-user",
    "dead_letters": "deadletters",
}


def topic_name(prefix: str, short: str) -> str:
    """The full name of topic ``short`` under ``prefix`` (``moodstream`` -> ``moodstream.feedback``)."""
    return f"{prefix}.{short}"
