"""Operator actions on the catalog: take a track's card out of every worker's catalog.

The catalog is the global ``cards`` table (:mod:`streams.catalog`): every worker keeps all of it,
read from its compacted changelog topic ``<app id>-cards-changelog``. A card is removed by a
tombstone (the track id with no value) on each changelog partition that holds the track's card:
every running worker applies it as it reads the changelog, a worker that starts later never
sees the card, and compaction drops the card for good. Nothing else changes: the track's audio
and features stay in the store, and a corrected event for the track is handled as new.
"""

from __future__ import annotations

import json
import logging
import time

from streams.exceptions import StreamsError
from streams.settings import Settings

__all__ = ["CatalogAdminError", "remove_card", "cards_changelog"]

logger = logging.getLogger(__name__)


class CatalogAdminError(StreamsError):
    """An operator action on the catalog that cannot be done (the message says why)."""


def cards_changelog(settings: Settings) -> str:
    """The changelog topic of the ``cards`` table (Faust names it ``<app id>-<table>-changelog``)."""
    return f"{settings.app_id}-cards-changelog"


def remove_card(settings: Settings, track_id: str, *, timeout_s: float = 30.0) -> list[int]:
    """Tombstone ``track_id``'s card on every changelog partition that holds it; return those
    partitions.

    Raises
    ------
    CatalogAdminError
        The changelog does not exist, or holds no card for ``track_id``.
    """
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    topic = cards_changelog(settings)
    # Faust writes the table's keys to its changelog JSON-encoded; a raw key is matched too.
    keys = {json.dumps(track_id).encode(), track_id.encode()}
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, group_id=None, enable_auto_commit=False,
        max_partition_fetch_bytes=16 * 2**20,
    )  # fmt: skip
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            raise CatalogAdminError(
                f"no topic {topic}: is MOODSTREAM_APP_ID ({settings.app_id!r}) the workers' app id?"
            )
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        holding: dict[tuple[int, bytes], bool] = {}  # (partition, key) -> holds a card now
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            if time.monotonic() > deadline:
                raise CatalogAdminError(f"could not read {topic} to its end in {timeout_s:g} s")
            for tp, records in consumer.poll(timeout_ms=500).items():
                for record in records:
                    if record.key in keys and record.offset < ends[tp]:
                        holding[tp.partition, record.key] = record.value is not None
    finally:
        consumer.close()
    cards = sorted(place for place, is_card in holding.items() if is_card)
    if not cards:
        raise CatalogAdminError(f"the catalog has no card for track {track_id!r} in {topic}")
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    try:
        for partition, key in cards:
            producer.send(topic, key=key, value=None, partition=partition).get(timeout=timeout_s)
    finally:
        producer.close()
    logger.info("track %s: card removed from %s (partitions %s)", track_id, topic, cards)
    return sorted({partition for partition, _ in cards})
