"""scripts/kafka-consumer-groups, the runbook's offset reset (docs/operations.md), against the
real broker: describe a group, dry-run a reset (nothing changes), execute it (the committed
offset moves)."""

import asyncio
import shutil
import subprocess

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from services.runtime.local import REPO_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCRIPT = REPO_ROOT / "scripts" / "kafka-consumer-groups"


async def tool(*args: str) -> subprocess.CompletedProcess[str]:
    # The first run resolves kafka-tools with Maven (minutes on a cold cache).
    return await asyncio.to_thread(
        subprocess.run, [str(SCRIPT), *args], capture_output=True, text=True, timeout=600
    )


async def committed(bootstrap: str, group: str, tp: TopicPartition) -> int | None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        return await consumer.committed(tp)  # type: ignore[no-any-return]
    finally:
        await consumer.stop()


async def test_describe_and_reset_offsets(kafka_bootstrap: str, topic_prefix: str) -> None:
    if shutil.which("java") is None or shutil.which("mvn") is None:
        pytest.skip("java and mvn are needed (scripts/system-deps installs them)")
    topic, group = f"{topic_prefix}news.raw", f"{topic_prefix}newswire-ingest"
    tp = TopicPartition(topic, 0)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for i in range(5):
            await producer.send_and_wait(topic, f"r{i}".encode(), partition=0)
    finally:
        await producer.stop()
    # A stage that read everything: its group committed 5 on partition 0.
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka_bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign([tp])
        await consumer.commit({tp: 5})
    finally:
        await consumer.stop()

    base = ["--bootstrap-server", kafka_bootstrap, "--group", group]
    described = await tool(*base, "--describe")
    assert described.returncode == 0, described.stderr
    row = next(line.split() for line in described.stdout.splitlines() if topic in line)
    assert row[1:6] == [topic, "0", "5", "5", "0"]  # topic partition current end lag

    reset = [*base, "--topic", f"{topic}:0", "--reset-offsets", "--shift-by", "-3"]
    dry = await tool(*reset, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert [topic, "0", "2"] == next(
        line.split()[1:] for line in dry.stdout.splitlines() if topic in line
    )
    assert await committed(kafka_bootstrap, group, tp) == 5

    done = await tool(*reset, "--execute")
    assert done.returncode == 0, done.stderr
    assert await committed(kafka_bootstrap, group, tp) == 2
