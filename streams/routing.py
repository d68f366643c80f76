"""Every event of one listener reaches that listener's one session, whatever the producer did.

The ``sessions`` table is partitioned like the topics its agents read: Faust files a table
write under the partition of the event being handled. Outside producers partition as their
client does: kafka-python and the Java client hash the key with murmur2, librdkafka (Go, C#,
Node, confluent-kafka) with CRC32 by default, and any producer may name a partition or send
without a key. A listener's clips and feedback could then land where the session is not, or
split one listener's state in two.

So every listener's session lives on :func:`partition_for_user`'s partition (murmur2, as
Faust's own producer and table routing place a key). The recommend agent answers a clip that is
keyed by its user id and already on that partition of ``voice.clips`` where it is; it forwards
any other clip, bytes unchanged, to ``voice.clips.by-user`` on that partition, and answers it
from there. Feedback always goes through ``feedback.by-user`` (the ``route_feedback`` agent).
One listener's events keep the order one producer gave them in one partition; clips and
feedback are two topics, and their relative order was never a guarantee.
"""

from __future__ import annotations

from kafka.partitioner import murmur2

__all__ = ["partition_for_user"]


def partition_for_user(user_id: str, partitions: int) -> int:
    """The partition of ``user_id``'s session: murmur2 of its UTF-8 bytes, as the Java client,
    kafka-python and aiokafka (Faust) place a key."""
    return (murmur2(user_id.encode()) & 0x7FFFFFFF) % partitions
