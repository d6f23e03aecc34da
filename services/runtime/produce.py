"""The outputs of one consumed batch, produced as record batches, one per topic-partition.

aiokafka's ``send()`` spends ~32 µs of CPU per record here (a future, the partitioner and an
accumulator lookup each call); filling ``BatchBuilder``s and handing each to ``send_batch()``
spends ~15 µs, partitioning included (measured on the local broker with 1.5 KB records; see
the README's ingest section). A stage writes 2–3 records per input (outputs, changelog rows),
so this is a few per cent of a worker's CPU.

The partition is the one ``send()`` would pick, aiokafka's ``DefaultPartitioner`` (Kafka's
murmur2 of the key; a random partition for no key), so a key lands on the same partition
whichever producer wrote it — dedup and story state rely on that. The hash is computed by
:func:`murmur2` below, the same function as aiokafka's in half its time (4 bytes a step
from ``struct`` instead of byte by byte: ~2.2 µs instead of ~4.9 µs for a 32-byte id here),
two records per article. Records of one
topic-partition stay in the order they were added: aiokafka queues one batch per
topic-partition at a time, in submission order.
"""

import asyncio
import random
import struct
from typing import Any

from aiokafka import AIOKafkaProducer

from services.runtime.dlq import Headers

TopicPartitionKey = tuple[str, int]

_MURMUR_M = 0x5BD1E995
_MURMUR_SEED = 0x9747B28C
_U32 = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2) as an unsigned 32-bit
    int, equal to aiokafka.partitioner.murmur2 (tests/unit/test_runtime.py compares them)."""
    length = len(data)
    h = _MURMUR_SEED ^ length
    body = length & ~3
    for (k,) in struct.iter_unpack("<I", data[:body]):
        k = (k * _MURMUR_M) & _U32
        k = ((k ^ (k >> 24)) * _MURMUR_M) & _U32
        h = ((h * _MURMUR_M) & _U32) ^ k
    tail = length & 3
    if tail:
        if tail == 3:
            h ^= data[body + 2] << 16
        if tail >= 2:
            h ^= data[body + 1] << 8
        h = ((h ^ data[body]) * _MURMUR_M) & _U32
    h ^= h >> 13
    h = (h * _MURMUR_M) & _U32
    return h ^ (h >> 15)


def partition_for(key: bytes | None, partitions: list[int]) -> int:
    """aiokafka's DefaultPartitioner: murmur2 of the key; a random partition for no key."""
    if key is None:
        return random.choice(partitions)
    return partitions[(murmur2(key) & 0x7FFFFFFF) % len(partitions)]


class OutputBatch:
    """Collects records for one input batch; ``flush`` submits what is left.

    ``sends`` lists (topic, records, future) for every submitted record batch; a future
    resolves when the broker acknowledged its records, or raises if they were not written.
    """

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer
        # Looked up once per input batch, so a topic that gains partitions is seen next batch.
        self._partitions: dict[str, list[int]] = {}
        self._open: dict[TopicPartitionKey, Any] = {}  # aiokafka BatchBuilder (untyped)
        self.sends: list[tuple[str, int, asyncio.Future[Any]]] = []

    async def _partitions_of(self, topic: str) -> list[int]:
        partitions = self._partitions.get(topic)
        if partitions is None:
            partitions = sorted(await self._producer.partitions_for(topic))
            self._partitions[topic] = partitions
        return partitions

    async def add(
        self, topic: str, key: bytes | None, value: bytes | None, headers: Headers
    ) -> None:
        partitions = await self._partitions_of(topic)
        partition = partition_for(key, partitions)
        tp = (topic, partition)
        builder = self._open.get(tp)
        if builder is None:
            builder = self._open[tp] = self._producer.create_batch()
        if builder.append(key=key, value=value, timestamp=None, headers=headers) is None:
            # Full: submit it and start another. A batch's first record always fits, however
            # large, so this second append cannot fail.
            await self._submit(tp, builder)
            builder = self._open[tp] = self._producer.create_batch()
            builder.append(key=key, value=value, timestamp=None, headers=headers)

    async def _submit(self, tp: TopicPartitionKey, builder: Any) -> None:
        records: int = builder.record_count()
        future = await self._producer.send_batch(builder, tp[0], partition=tp[1])
        self.sends.append((tp[0], records, future))

    async def acknowledged(self) -> None:
        """Returns once the broker acknowledged every submitted batch; raises the first failure.
        Every future's outcome is collected, so none is left with an exception nobody read."""
        await acknowledged(self.sends)

    async def flush(self) -> None:
        for tp, builder in self._open.items():
            await self._submit(tp, builder)
        self._open.clear()


async def acknowledged(sends: list[tuple[str, int, "asyncio.Future[Any]"]]) -> None:
    """Waits for every send of ``sends``; raises the first failure once all are done."""
    results = await asyncio.gather(*(future for _, _, future in sends), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
