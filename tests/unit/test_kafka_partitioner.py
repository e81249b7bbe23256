"""The two key hashes Kafka clients use. Where librdkafka really puts a key is checked on the
real broker (tests/integration/test_foreign_producers.py); here, aiokafka's own choice and
the published reference values."""

from __future__ import annotations

import pytest
from aiokafka.partitioner import DefaultPartitioner

from services.platform.kafka.partitioner import (
    PartitionerName,
    aiokafka_partitioner,
    crc32_partition,
    murmur2_partition,
)

KEYS = [b"MAN", b"FP00", b"E07000174", b"K01", b"LDN"]


@pytest.mark.parametrize("key", KEYS)
def test_murmur2_is_where_aiokafka_puts_a_key(key: bytes) -> None:
    parts = list(range(6))
    assert murmur2_partition(key, 6) == DefaultPartitioner()(key, parts, parts)
    assert aiokafka_partitioner(PartitionerName.MURMUR2)(key, parts, parts) == DefaultPartitioner()(
        key, parts, parts
    )


def test_crc32_is_the_standard_crc_of_the_key() -> None:
    # CRC-32 (ISO-HDLC) of b"123456789" is 0xCBF43926, the check value of the standard.
    assert crc32_partition(b"123456789", 2**32 - 1) == 0xCBF43926 % (2**32 - 1)


def test_the_two_hashes_disagree_for_most_council_codes() -> None:
    codes = [f"FP{i:02d}".encode() for i in range(24)]
    same = sum(murmur2_partition(c, 6) == crc32_partition(c, 6) for c in codes)
    assert same < len(codes) // 2


def test_without_a_key_any_available_partition() -> None:
    choose = aiokafka_partitioner(PartitionerName.CRC32)
    assert {choose(None, [0, 1, 2], [2]) for _ in range(20)} == {2}
