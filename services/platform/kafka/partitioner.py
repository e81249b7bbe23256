"""Which partition a keyed record goes to, by the two hashes Kafka clients use.

kafka-clients (Java), aiokafka and kafka-python hash the key with murmur2; librdkafka (the
client under .NET, Go, C/C++ and confluent-kafka) defaults to ``consistent_random``, the
CRC32 of the key. The project's own producers use murmur2 (aiokafka's default); a
deployment whose case management system keeps librdkafka's default can choose ``crc32``
for them, so that a council's register and its casework share a partition
(docs/integrating.md). Both functions give the partition for ``partitions`` partitions.
"""

from __future__ import annotations

import enum
import random
import zlib
from collections.abc import Callable, Sequence

from aiokafka.partitioner import murmur2


class PartitionerName(enum.StrEnum):
    MURMUR2 = "murmur2"  # kafka-clients, aiokafka; librdkafka partitioner=murmur2_random
    CRC32 = "crc32"  # librdkafka's default, consistent_random


def murmur2_partition(key: bytes, partitions: int) -> int:
    hashed: int = murmur2(key)
    return (hashed & 0x7FFFFFFF) % partitions


def crc32_partition(key: bytes, partitions: int) -> int:
    return zlib.crc32(key) % partitions


HASHES: dict[PartitionerName, Callable[[bytes, int], int]] = {
    PartitionerName.MURMUR2: murmur2_partition,
    PartitionerName.CRC32: crc32_partition,
}

AiokafkaPartitioner = Callable[[bytes | None, Sequence[int], Sequence[int]], int]


def aiokafka_partitioner(name: PartitionerName) -> AiokafkaPartitioner:
    """The ``partitioner=`` of an AIOKafkaProducer: the named hash for a key, a random
    available partition without one (as both clients do)."""
    hash_of = HASHES[name]

    def choose(key: bytes | None, all_partitions: Sequence[int], available: Sequence[int]) -> int:
        if key is None:
            return random.choice(list(available or all_partitions))
        ordered = sorted(all_partitions)
        return ordered[hash_of(key, len(ordered))]

    return choose
