"""OutputBatch on the real broker: the partitions send() picks, order kept, full batches split."""

import uuid

import pytest
from aiokafka import AIOKafkaProducer

from services.runtime.io import read_topic
from services.runtime.kafka import ensure_topics
from services.runtime.produce import OutputBatch

pytestmark = pytest.mark.integration


async def test_keyed_records_land_where_send_puts_them_in_order(kafka_bootstrap: str) -> None:
    topic = f"t{uuid.uuid4().hex[:10]}.outputs"
    await ensure_topics(kafka_bootstrap, [topic], 3)
    # 1 KiB batches with 300-byte records: every topic-partition needs several batches.
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True, max_batch_size=1024
    )
    await producer.start()
    try:
        keys = [f"key-{i % 17}".encode() for i in range(200)]
        batch = OutputBatch(producer)
        for i, key in enumerate(keys):
            await batch.add(topic, key, f"{i:04d}".encode() * 75, [("n", str(i).encode())])
        await batch.flush()
        assert sum(records for _, records, _ in batch.sends) == 200
        assert len(batch.sends) > 3  # split, not one batch per partition
        written = [await future for _, _, future in batch.sends]
        assert all(md.topic == topic for md in written)
        # Where send() puts the same keys: the partition a key lands on is the producer's.
        by_send = {
            key: (await (await producer.send(topic, b"x", key=key))).partition for key in set(keys)
        }
    finally:
        await producer.stop()

    records = [
        r async for r in read_topic(kafka_bootstrap, topic, idle_timeout=3) if r.value != b"x"
    ]
    assert len(records) == 200
    for r in records:
        assert r.partition == by_send[r.key]
        assert int(dict(r.headers)["n"]) == int(r.value[:4])
    # Per partition, records are in the order they were added.
    for partition in {r.partition for r in records}:
        sequence = [int(r.value[:4]) for r in records if r.partition == partition]
        assert sequence == sorted(sequence)
