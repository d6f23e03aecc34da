"""The broker deploy/local/kafka starts supports what newswire relies on, through aiokafka.

This is the proof behind the Kafka version pinned in deploy/local/kafka: aiokafka's
idempotent producer and its transactions (commit, abort, offsets in a transaction) work.
"""

import subprocess
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from services.runtime.local import KAFKA_SCRIPT

pytestmark = pytest.mark.integration


async def _topic(bootstrap: str, partitions: int = 1) -> str:
    name = f"compat-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()
    return name


async def _read_all(bootstrap: str, topic: str, isolation: str) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, isolation_level=isolation, enable_auto_commit=False
    )
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        values: list[bytes] = []
        while await consumer.position(tp) < end:
            batch = await consumer.getmany(tp, timeout_ms=1000)
            values += [r.value for r in batch.get(tp, [])]
        return values
    finally:
        await consumer.stop()


def test_script_pins_the_version_under_test() -> None:
    text = KAFKA_SCRIPT.read_text()
    assert "KAFKA_VERSION=${KAFKA_VERSION:-4.4.0}" in text


async def test_idempotent_producer(kafka_bootstrap: str) -> None:
    topic = await _topic(kafka_bootstrap)
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, enable_idempotence=True, acks="all"
    )
    await producer.start()
    try:
        sent = [await producer.send_and_wait(topic, f"m{i}".encode()) for i in range(5)]
    finally:
        await producer.stop()
    assert [md.offset for md in sent] == [0, 1, 2, 3, 4]
    assert await _read_all(kafka_bootstrap, topic, "read_uncommitted") == [
        b"m0",
        b"m1",
        b"m2",
        b"m3",
        b"m4",
    ]


async def test_transactions_commit_abort_and_offsets(kafka_bootstrap: str) -> None:
    topic = await _topic(kafka_bootstrap)
    source = await _topic(kafka_bootstrap)
    group = f"compat-group-{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, transactional_id=f"compat-{uuid.uuid4().hex[:8]}"
    )
    await producer.start()
    try:
        async with producer.transaction():
            await producer.send(topic, b"committed-1")
        await producer.begin_transaction()
        await producer.send(topic, b"aborted")
        await producer.abort_transaction()
        async with producer.transaction():
            await producer.send(topic, b"committed-2")
            await producer.send_offsets_to_transaction({TopicPartition(source, 0): 7}, group)
    finally:
        await producer.stop()

    assert await _read_all(kafka_bootstrap, topic, "read_committed") == [
        b"committed-1",
        b"committed-2",
    ]
    assert b"aborted" in await _read_all(kafka_bootstrap, topic, "read_uncommitted")

    consumer = AIOKafkaConsumer(
        source, bootstrap_servers=kafka_bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        assert await consumer.committed(TopicPartition(source, 0)) == 7
    finally:
        await consumer.stop()


def test_status_names_the_running_version(kafka_bootstrap: str) -> None:
    # The session broker may be external (NEWSWIRE_TEST_BOOTSTRAP); only check ours.
    out = subprocess.run([str(KAFKA_SCRIPT), "status"], capture_output=True, text=True)
    assert out.returncode in (0, 3)
    assert out.stdout.startswith(("running", "stopped"))
