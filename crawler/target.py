"""Where a crawl writes: the object store bucket for audio and the Kafka topic for events."""

from __future__ import annotations

from dataclasses import dataclass

from models.storage import ObjectStore

__all__ = ["CrawlTarget"]


@dataclass(frozen=True)
class CrawlTarget:
    """The crawler's outputs; ``streams.settings.Settings.crawl_target`` builds the usual one."""

    kafka_bootstrap: str
    """``host:port`` of the Kafka broker."""
    topic: str
    """Full name of the track-discovered topic."""
    store: ObjectStore
    """The object store that keeps the audio and the crawl state."""
    bucket: str
    """Bucket of crawled audio (and of the crawl state, under ``crawler/``)."""
    transactional_id_prefix: str
    """Each site's producer uses ``<prefix>-crawler-<site>``; a restarted crawler fences its
    predecessor through it, so two deployments on one broker need different prefixes."""
