"""processing_guarantee=exactly_once against the real broker (services/runtime/transactions.py).

What is checked, each with aiokafka 0.14 on the broker the suite runs:
- outputs, dead letters and input offsets commit together, and a clean stop leaves every
  consumed offset committed;
- a step that crashes mid-batch leaves nothing of its open transaction visible; the next
  owner of the partition aborts it and delivers every record exactly once;
- a producer that takes over a partition's transactional id fences the old one: the old
  owner's commit fails and nothing it wrote survives (the zombie case);
- a worker whose transactions are fenced from outside rebuilds its clients, counts it, and
  goes on without losing or repeating a record.
"""

import asyncio
from collections import Counter

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError
from prometheus_client import CollectorRegistry

from schemas import topics
from services.ingest.settings import IngestSettings
from services.ingest.step import build_worker
from services.runtime.app import run_worker
from services.runtime.io import produce_raw, read_topic
from services.runtime.kafka import ensure_newswire_topics
from services.runtime.settings import CommitSettings, HttpSettings, KafkaSettings
from services.runtime.transactions import PartitionProducers, transactional_id
from tests.conftest import new_prefix
from tests.helpers import generated_article, raw_event
from tests.integration.test_stage_loop import committed_and_end, running, worker_with_a_bug
from tests.waiting import wait_until

pytestmark = pytest.mark.integration


def exactly_once(bootstrap: str, prefix: str, max_batch: int = 50) -> IngestSettings:
    return IngestSettings(
        kafka=KafkaSettings(bootstrap=bootstrap, max_batch=max_batch, call_timeout_seconds=10.0),
        http=HttpSettings(port=0),
        topic_prefix=prefix,
        commit=CommitSettings(every_seconds=0.2),
        processing_guarantee="exactly_once",
        rebuild_backoff_seconds=0.1,
    )


async def article_keys(bootstrap: str, topic: str, idle: float = 1.5) -> Counter[bytes]:
    """Every committed record's key on ``topic`` (read_committed), with its count."""
    return Counter(
        [r.key async for r in read_topic(bootstrap, topic, idle_timeout=idle, total_timeout=60)]
    )


async def test_outputs_dead_letters_and_offsets_commit_together(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    settings = exactly_once(kafka_bootstrap, topic_prefix)
    raw = topic_prefix + topics.RAW.name
    await produce_raw(settings.kafka, raw, [raw_event(generated_article(i)) for i in range(30)])
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    await producer.send_and_wait(raw, b"\x00 not an event", key=b"bad")
    await producer.stop()

    registry = CollectorRegistry()
    articles = topic_prefix + topics.ARTICLES.name
    async with running(build_worker(settings), settings, registry, raise_on_stop=True):

        async def all_out() -> bool:
            return len(await article_keys(kafka_bootstrap, articles, idle=0.5)) == 30

        await wait_until(all_out, 60, "30 articles committed")

    keys = await article_keys(kafka_bootstrap, articles)
    assert len(keys) == 30
    assert set(keys.values()) == {1}, keys
    dead = [r async for r in read_topic(kafka_bootstrap, raw + ".dlq", idle_timeout=1.5)]
    assert [r.value for r in dead] == [b"\x00 not an event"]
    positions = await committed_and_end(kafka_bootstrap, raw, settings.group_for("ingest"))
    assert all(committed == end for committed, end in positions.values()), positions
    assert registry.get_sample_value(
        "newswire_offset_commits_total", {"service": "ingest", "outcome": "ok"}
    )
    assert not registry.get_sample_value(
        "newswire_offset_commits_total", {"service": "ingest", "outcome": "failed"}
    )


async def test_a_crash_mid_batch_leaves_nothing_of_its_transaction(kafka_bootstrap: str) -> None:
    prefix = new_prefix()
    await ensure_newswire_topics(kafka_bootstrap, prefix, partitions=1)
    settings = exactly_once(kafka_bootstrap, prefix, max_batch=500)
    crashing, poison = worker_with_a_bug(settings)
    raw_topic = prefix + topics.RAW.name
    articles = prefix + topics.ARTICLES.name
    group = settings.group_for("ingest")
    await produce_raw(
        settings.kafka, raw_topic, [raw_event(generated_article(i)) for i in range(5)]
    )
    task = asyncio.create_task(
        run_worker(crashing, settings, stop=asyncio.Event(), registry=CollectorRegistry())
    )

    async def first_five_committed() -> bool:
        [(committed, _)] = (await committed_and_end(kafka_bootstrap, raw_topic, group)).values()
        return committed == 5

    await wait_until(first_five_committed, 60, "the first 5 records committed")
    # Good records before the poison in one fetch: their outputs are in the open transaction
    # when the step fails.
    more = [raw_event(generated_article(i)) for i in range(5, 8)]
    more += [poison]
    more += [raw_event(generated_article(i)) for i in range(8, 10)]
    await produce_raw(settings.kafka, raw_topic, more)
    with pytest.raises(RuntimeError, match="a bug"):
        await asyncio.wait_for(task, 60)

    [(committed, end)] = (await committed_and_end(kafka_bootstrap, raw_topic, group)).values()
    assert (committed, end) == (5, 11)

    # The fixed worker takes the partition's transactional id over (aborting what the crashed
    # one left open) and delivers the rest: 10 articles and the poison record's, each once.
    async with running(build_worker(settings), settings, CollectorRegistry(), raise_on_stop=True):

        async def all_there() -> bool:
            return len(await article_keys(kafka_bootstrap, articles, idle=0.5)) == 11

        await wait_until(all_there, 60, "all 11 articles after the restart")
    keys = await article_keys(kafka_bootstrap, articles)
    assert len(keys) == 11
    assert set(keys.values()) == {1}, keys


async def zombie_commits(
    producer: AIOKafkaProducer, offsets: dict[TopicPartition, int], group: str
) -> None:
    await producer.send_offsets_to_transaction(offsets, group)
    await producer.commit_transaction()


async def test_the_new_owner_of_a_partition_fences_the_old_one(kafka_bootstrap: str) -> None:
    prefix = new_prefix()
    await ensure_newswire_topics(kafka_bootstrap, prefix, partitions=1)
    settings = exactly_once(kafka_bootstrap, prefix)
    group = settings.group_for("ingest")
    source = TopicPartition(prefix + topics.RAW.name, 0)
    out = prefix + topics.ARTICLES.name

    zombie = PartitionProducers(settings, "zombie", group)
    successor = PartitionProducers(settings, "successor", group)
    try:
        old = await zombie.acquire(source)
        await old.begin_transaction()
        await (await old.send(out, b"from the zombie", key=b"z"))
        # The successor initialises the same transactional id: epoch bumped, zombie fenced.
        new = await successor.acquire(source)
        with pytest.raises(KafkaError):
            await zombie_commits(old, {source: 100}, group)
        async with new.transaction():
            await new.send(out, b"from the successor", key=b"s")
            await new.send_offsets_to_transaction({source: 7}, group)
    finally:
        await zombie.close()
        await successor.close()

    values = [r.value async for r in read_topic(kafka_bootstrap, out, idle_timeout=1.5)]
    assert values == [b"from the successor"]
    [(committed, _)] = (await committed_and_end(kafka_bootstrap, source.topic, group)).values()
    assert committed == 7
    assert transactional_id(group, source) == f"{group}.{source.topic}.0"


async def test_a_fenced_worker_rebuilds_and_loses_nothing(kafka_bootstrap: str) -> None:
    prefix = new_prefix()
    await ensure_newswire_topics(kafka_bootstrap, prefix, partitions=1)
    settings = exactly_once(kafka_bootstrap, prefix)
    raw_topic = prefix + topics.RAW.name
    articles = prefix + topics.ARTICLES.name
    group = settings.group_for("ingest")
    registry = CollectorRegistry()
    async with running(build_worker(settings), settings, registry, raise_on_stop=True) as task:
        await produce_raw(
            settings.kafka, raw_topic, [raw_event(generated_article(i)) for i in range(10)]
        )

        async def ten() -> bool:
            return len(await article_keys(kafka_bootstrap, articles, idle=0.5)) == 10

        await wait_until(ten, 60, "the first 10 articles")
        # Someone else initialises the partition's transactional id: the worker's producer
        # is fenced, and it finds out at its next transaction.
        intruder = PartitionProducers(settings, "intruder", group)
        await intruder.acquire(TopicPartition(raw_topic, 0))
        await intruder.close()
        await produce_raw(
            settings.kafka, raw_topic, [raw_event(generated_article(i)) for i in range(10, 20)]
        )

        async def twenty() -> bool:
            return len(await article_keys(kafka_bootstrap, articles, idle=0.5)) == 20

        await wait_until(twenty, 60, "all 20 articles after the rebuild")
        assert not task.done()
    rebuilds = registry.get_sample_value(
        "newswire_worker_rebuilds_total", {"service": "ingest", "error": "ProducerFenced"}
    )
    assert rebuilds == 1
    keys = await article_keys(kafka_bootstrap, articles)
    assert len(keys) == 20
    assert set(keys.values()) == {1}, keys
