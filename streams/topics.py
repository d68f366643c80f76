"""Every topic moodstream reads or writes, declared on the Faust app.

The names are the contract in :mod:`schemas.topics`. Topics are declared with the ``raw``
serializer so that decoding happens inside the agents, where a bad message can be sent to the
dead-letter topic with its offset instead of being dropped by Faust.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import faust

from schemas.topics import TOPIC_NAMES
from streams.settings import Settings

logger = logging.getLogger(__name__)

__all__ = ["Topics", "TOPIC_NAMES", "declare_topics", "ensure_topics"]


@dataclass(frozen=True)
class Topics:
    """The app's topics; each attribute is a :class:`faust.TopicT`."""

    track_discovered: faust.TopicT
    """Crawler -> ingest: TrackDiscovered."""
    track_registered: faust.TopicT
    """First sighting of each track id (duplicates removed): TrackDiscovered."""
    track_features: faust.TopicT
    """Segment matrix stored: TrackFeaturesReady."""
    track_classified: faust.TopicT
    """Emotion known, keyed by emotion on the emotion's partition: TrackClassified."""
    track_labelled: faust.TopicT
    """Emotion and theme known (and relabels): TrackLabelled."""
    voice_clips: faust.TopicT
    """Listeners' clips: VoiceClipSubmitted."""
    recommendations: faust.TopicT
    """Answers, keyed by user: Recommendation."""
    feedback: faust.TopicT
    """Picks and abandons: UserFeedback."""
    voice_clips_by_user: faust.TopicT
    """voice.clips re-keyed by user onto the session's partition (streams.routing)."""
    feedback_by_user: faust.TopicT
    """feedback re-keyed by user onto the session's partition (streams.routing)."""
    dead_letters: faust.TopicT
    """Events no agent could process, with the reason: DeadLetter."""

    def all(self) -> list[faust.TopicT]:
        """Every topic, in declaration order."""
        return [getattr(self, attr) for attr in TOPIC_NAMES]


def declare_topics(app: faust.App, settings: Settings) -> Topics:
    """Declare every topic on ``app`` under the settings' prefix."""

    def topic(short: str) -> faust.TopicT:
        return app.topic(
            settings.topic(short),
            key_serializer="raw",
            value_serializer="raw",
            partitions=settings.partitions,
        )

    return Topics(**{attr: topic(short) for attr, short in TOPIC_NAMES.items()})


def ensure_topics(settings: Settings) -> list[str]:
    """Create every topic of ``settings`` that does not exist yet; return the ones created.

    Workers call this before they subscribe: a Faust consumer that subscribes to a missing topic
    ignores it for good, and outside consumers of output topics need them to exist too.
    """
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import TopicAlreadyExistsError

    names = [settings.topic(short) for short in TOPIC_NAMES.values()]
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        missing = [name for name in names if name not in set(admin.list_topics())]
        created = []
        for name in missing:
            try:
                admin.create_topics([NewTopic(name, settings.partitions, 1)])
                created.append(name)
            except TopicAlreadyExistsError:
                pass  # another worker won the race
    finally:
        admin.close()
    if created:
        logger.info("created topics: %s", ", ".join(created))
    return created
