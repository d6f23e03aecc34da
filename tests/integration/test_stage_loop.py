"""The runtime loop against the real broker, with a worker running in this process.

Checks the delivery contract: outputs and dead letters are acknowledged before offsets are
committed; a crash in a step commits nothing past the record it failed on; after restart
nothing is lost.
"""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from prometheus_client import CollectorRegistry

from schemas import topics
from schemas.article import Article
from schemas.raw import RawArticleEvent
from services.ingest.settings import IngestSettings
from services.ingest.step import build_worker
from services.runtime import dlq
from services.runtime.app import run_worker
from services.runtime.io import produce_raw, read_topic
from services.runtime.kafka import ensure_newswire_topics, topic_partitions
from services.runtime.settings import CommitSettings, HttpSettings, KafkaSettings
from services.runtime.worker import StepContext, Worker
from tests.conftest import new_prefix
from tests.helpers import generated_article, raw_event
from tests.waiting import wait_until

pytestmark = pytest.mark.integration


def settings_for(bootstrap: str, prefix: str, every: int = 1000) -> IngestSettings:
    return IngestSettings(
        kafka=KafkaSettings(bootstrap=bootstrap, max_batch=50),
        http=HttpSettings(port=0),
        topic_prefix=prefix,
        commit=CommitSettings(every_messages=every, every_seconds=0.2),
    )


@contextlib.asynccontextmanager
async def running(
    worker: Worker[Any, Any],
    settings: IngestSettings,
    registry: CollectorRegistry,
    *,
    raise_on_stop: bool = False,
) -> AsyncIterator[asyncio.Task[None]]:
    """The worker in this process while the block runs; stopped after it (a failure on the
    way out is raised with ``raise_on_stop``, else ignored: the test has asserted by then)."""
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(worker, settings, stop=stop, registry=registry))
    try:
        yield task
    finally:
        stop.set()
        if raise_on_stop:
            await asyncio.wait_for(task, 30)
        else:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 30)


async def committed_and_end(bootstrap: str, topic: str, group: str) -> dict[int, tuple[int, int]]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        tps = await topic_partitions(consumer, topic)
        ends = await consumer.end_offsets(tps)
        return {tp.partition: ((await consumer.committed(tp)) or 0, ends[tp]) for tp in tps}
    finally:
        await consumer.stop()


async def collect(bootstrap: str, topic: str, expected: int, timeout: float = 30) -> list[Any]:
    return [
        r
        async for r in read_topic(
            bootstrap, topic, max_records=expected, idle_timeout=timeout, total_timeout=timeout
        )
    ]


async def test_outputs_and_dead_letters_then_commit(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    settings = settings_for(kafka_bootstrap, topic_prefix)
    good = [raw_event(generated_article(i)) for i in range(20)]
    garbage = [b"\x00\x01 not an event", b'{"source": "x"}']
    await produce_raw(settings.kafka, topic_prefix + topics.RAW.name, good)
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    for g in garbage:
        await producer.send_and_wait(
            topic_prefix + topics.RAW.name, g, key=b"bad", headers=[("origin", b"test")]
        )
    await producer.stop()

    registry = CollectorRegistry()
    async with running(build_worker(settings), settings, registry):
        articles = await collect(kafka_bootstrap, topic_prefix + topics.ARTICLES.name, 20)
        dead = await collect(kafka_bootstrap, topic_prefix + topics.RAW.dlq, 2)  # type: ignore[operator]

    ids = {Article.model_validate_json(r.value).article_id for r in articles}
    assert len(ids) == 20
    assert all(r.key == Article.model_validate_json(r.value).article_id.encode() for r in articles)
    assert sorted(r.value for r in dead) == sorted(garbage)
    for record in dead:
        h = dlq.header_map(record.headers)
        assert h[dlq.REASON] == "invalid_envelope"
        assert h[dlq.ORIGINAL_TOPIC] == topic_prefix + topics.RAW.name
        assert h["origin"] == "test"
        assert record.key == b"bad"

    # The worker stopped cleanly, so every consumed offset is committed.
    positions = await committed_and_end(
        kafka_bootstrap, topic_prefix + topics.RAW.name, settings.group_for("ingest")
    )
    assert all(committed == end for committed, end in positions.values()), positions
    consumed = registry.get_sample_value
    raw = topic_prefix + topics.RAW.name
    labels = {"service": "ingest", "topic": raw}
    assert consumed("newswire_records_consumed_total", {**labels, "outcome": "ok"}) == 20
    assert consumed("newswire_records_consumed_total", {**labels, "outcome": "dead_letter"}) == 2
    assert (
        consumed("newswire_dead_letters_total", {"service": "ingest", "reason": "invalid_envelope"})
        == 2
    )


def worker_with_a_bug(settings: IngestSettings) -> tuple[Worker[Any, Any], RawArticleEvent]:
    """The ingest worker with a bug that one event triggers (a RuntimeError, not bad data),
    and that event."""
    normal = build_worker(settings)
    poison_title = f"POISON {uuid.uuid4().hex}"

    async def buggy(raw: RawArticleEvent, ctx: StepContext) -> Sequence[Article] | Article | None:
        if poison_title in raw.payload:
            raise RuntimeError("a bug, not bad data")
        return await normal.step(raw, ctx)

    crashing = Worker("ingest", topics.RAW, topics.ARTICLES, buggy, normal.tables)
    return crashing, raw_event(f"{poison_title}\n2025-01-01 00:00- x\n")


async def test_a_crashing_step_commits_nothing_past_it_and_loses_nothing(
    kafka_bootstrap: str,
) -> None:
    prefix = new_prefix()
    await ensure_newswire_topics(kafka_bootstrap, prefix, partitions=1)
    settings = settings_for(kafka_bootstrap, prefix, every=1)
    crashing, poison = worker_with_a_bug(settings)
    raw_topic = prefix + topics.RAW.name
    group = settings.group_for("ingest")
    await produce_raw(
        settings.kafka, raw_topic, [raw_event(generated_article(i)) for i in range(5)]
    )

    stop = asyncio.Event()
    task = asyncio.create_task(
        run_worker(crashing, settings, stop=stop, registry=CollectorRegistry())
    )

    async def first_five_committed() -> bool:
        [(committed, _)] = (await committed_and_end(kafka_bootstrap, raw_topic, group)).values()
        return committed == 5

    await wait_until(first_five_committed, 30, "the first 5 records committed")
    more = [poison]
    more += [raw_event(generated_article(i)) for i in range(5, 10)]
    await produce_raw(settings.kafka, raw_topic, more)
    with pytest.raises(RuntimeError, match="a bug"):
        await asyncio.wait_for(task, 30)

    [(committed, end)] = (await committed_and_end(kafka_bootstrap, raw_topic, group)).values()
    assert (committed, end) == (5, 11), "committed past the record the step failed on"
    out = [
        r async for r in read_topic(kafka_bootstrap, prefix + topics.ARTICLES.name, idle_timeout=2)
    ]
    assert len(out) >= committed, "an offset was committed before its output was written"

    # The bug is fixed (the normal step): the restarted worker delivers every article.
    fixed = build_worker(settings)
    async with running(fixed, settings, CollectorRegistry()):

        async def all_there() -> bool:
            got = [
                r
                async for r in read_topic(
                    kafka_bootstrap, prefix + topics.ARTICLES.name, idle_timeout=1
                )
            ]
            return len({r.key for r in got}) == 11

        await wait_until(all_there, 30, "all 11 articles after restart")
