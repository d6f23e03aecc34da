"""Static group membership (``NEWSWIRE_KAFKA__GROUP_INSTANCE_ID``, KIP-345) on the real
broker, through the workers' own consumer settings (services/runtime/kafka.py): a member that
stops and comes back under its id within the session timeout gets its partitions back and
the other member is never rebalanced; with dynamic membership the same stop moves partitions
at once. Each consumer polls in a task of its own, as a worker's loop does."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

from services.runtime.kafka import make_consumer
from services.runtime.settings import KafkaSettings
from tests.waiting import wait_until

pytestmark = pytest.mark.integration


class Recorder(ConsumerRebalanceListener):  # type: ignore[misc]
    """Every assignment and revocation this member saw, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, frozenset[int]]] = []

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self.events.append(("revoked", frozenset(tp.partition for tp in revoked)))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.events.append(("assigned", frozenset(tp.partition for tp in assigned)))


@contextlib.asynccontextmanager
async def member(
    bootstrap: str, topic: str, group: str, instance: str | None
) -> AsyncIterator[tuple[AIOKafkaConsumer, Recorder]]:
    kafka = KafkaSettings(bootstrap=bootstrap, group_instance_id=instance)
    consumer = make_consumer(kafka, f"static-{instance}", group)
    recorder = Recorder()
    consumer.subscribe([topic], listener=recorder)
    await consumer.start()

    async def poll() -> None:
        while True:
            await consumer.getmany(timeout_ms=100)

    polling = asyncio.create_task(poll())
    try:
        yield consumer, recorder
    finally:
        polling.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await polling
        await consumer.stop()


def owned(consumer: AIOKafkaConsumer) -> frozenset[int]:
    return frozenset(tp.partition for tp in consumer.assignment())


async def settled(a: AIOKafkaConsumer, b: AIOKafkaConsumer, partitions: int) -> None:
    async def split() -> bool:
        mine, theirs = owned(a), owned(b)
        return bool(mine) and bool(theirs) and len(mine | theirs) == partitions

    await wait_until(split, 30, "both members assigned")


@pytest.mark.parametrize("static", [True, False], ids=["static", "dynamic"])
async def test_a_static_member_comes_back_without_a_rebalance(
    kafka_bootstrap: str, topic_prefix: str, static: bool
) -> None:
    topic = f"{topic_prefix}news.raw"  # 3 partitions
    group = f"{topic_prefix}static-{static}"
    ids = ("w-0", "w-1") if static else (None, None)
    async with member(kafka_bootstrap, topic, group, ids[1]) as (stays, seen):
        async with member(kafka_bootstrap, topic, group, ids[0]) as (leaves, _):
            await settled(stays, leaves, 3)
            before = owned(leaves)
        events = len(seen.events)
        if not static:
            # A dynamic member leaves the group as it stops: its partitions move at once.
            async def moved() -> bool:
                return owned(stays) == frozenset({0, 1, 2})

            await wait_until(moved, 20, "the remaining member taking every partition")
            assert seen.events[events:] != []
            return
        # A static member does not leave: within the session timeout (10 s) nothing moves.
        await asyncio.sleep(3)
        assert owned(stays).isdisjoint(before)
        async with member(kafka_bootstrap, topic, group, ids[0]) as (back, _):

            async def returned() -> bool:
                return owned(back) == before

            await wait_until(returned, 20, "the member's partitions back under its id")
            assert seen.events[events:] == []  # the other member was never rebalanced
