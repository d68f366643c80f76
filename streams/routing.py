"""Every event of one listener reaches that listener's one session, whatever the producer did.

The ``sessions`` table is partitioned like the topics its agents read: Faust files a table
write under the partition of the event being handled. Outside producers partition as their
client does: kafka-python and the Java client hash the key with murmur2, librdkafka (Go, C#,
Node, confluent-kafka) with CRC32 by default, and any producer may name a partition or send
without a key. A listener's clips and feedback could then land where the session is not, or
split one listener's state in two.

So the public input topics (``voice.clips``, ``feedback``) are read by routing agents that
forward each event, bytes unchanged, to an internal topic (``voice.clips.by-user``,
``feedback.by-user``) keyed by the user id in the event and on the partition
:func:`partition_for_user` names (murmur2, as Faust's own producer and table routing place a
key). The recommend and feedback agents read only the internal topics. One listener's events
keep the order they had in their source partition; clips and feedback are two topics, and
their relative order was never a guarantee.
"""

from __future__ import annotations

from kafka.partitioner import murmur2

__all__ = ["partition_for_user"]


def partition_for_user(user_id: str, partitions: int) -> int:
    """The partition of ``user_id``'s session: murmur2 of its UTF-8 bytes, as the Java client,
    kafka-python and aiokafka (Faust) place a key."""
    return (murmur2(user_id.encode()) & 0x7FFFFFFF) % partitions
