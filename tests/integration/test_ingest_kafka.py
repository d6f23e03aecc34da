"""ingest against the real broker: dedup state kept in Kafka, shared by workers, and the
dead-letter round trip (list, fix, replay)."""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client import CollectorRegistry

from schemas import topics
from schemas.article import Article
from schemas.raw import RawArticleEvent
from services.ingest.limits import IngestLimits
from services.ingest.normalize import normalize
from services.ingest.settings import IngestSettings
from services.ingest.step import build_worker, policy_from
from services.runtime import dlq
from services.runtime.app import run_worker
from services.runtime.dlq_tools import replay
from services.runtime.io import produce_raw, raw_key, read_topic
from services.runtime.settings import CommitSettings, HttpSettings, KafkaSettings
from tests.helpers import generated_article, raw_event
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).parent.parent / "fixtures"


def settings_for(bootstrap: str, prefix: str, **extra: Any) -> IngestSettings:
    return IngestSettings(
        kafka=KafkaSettings(bootstrap=bootstrap),
        http=HttpSettings(port=0),
        topic_prefix=prefix,
        commit=CommitSettings(every_seconds=0.2),
        **extra,
    )


@contextlib.asynccontextmanager
async def ingest(settings: IngestSettings) -> AsyncIterator[CollectorRegistry]:
    registry = CollectorRegistry()
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_worker(build_worker(settings), settings, stop=stop, registry=registry)
    )
    try:
        yield registry
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def articles(bootstrap: str, prefix: str) -> list[Article]:
    return [
        Article.model_validate_json(r.value)
        async for r in read_topic(bootstrap, prefix + topics.ARTICLES.name, idle_timeout=1.5)
    ]


async def count_consumed(registry: CollectorRegistry) -> float:
    return sum(
        s.value
        for m in registry.collect()
        if m.name == "newswire_records_consumed"
        for s in m.samples
        if s.name.endswith("_total")
    )


async def test_dedup_survives_a_restart(kafka_bootstrap: str, topic_prefix: str) -> None:
    settings = settings_for(kafka_bootstrap, topic_prefix)
    kafka = settings.kafka
    raw_topic = topic_prefix + topics.RAW.name
    event = raw_event(generated_article(1), url="https://example.com/story-1")
    async with ingest(settings) as registry:
        await produce_raw(kafka, raw_topic, [event])

        async def one_consumed() -> bool:
            return await count_consumed(registry) >= 1

        await wait_until(one_consumed, 30, "the first copy consumed")

    # A new worker restores the seen-set from the changelog before its first record.
    async with ingest(settings) as registry:
        tracked = event.model_copy(update={"url": "https://example.com/story-1?utm_source=x"})
        await produce_raw(kafka, raw_topic, [event, tracked])

        async def two_consumed() -> bool:
            return await count_consumed(registry) >= 2

        await wait_until(two_consumed, 30, "the re-sent copies consumed")
        dropped = registry.get_sample_value(
            "newswire_records_dropped_total", {"service": "ingest", "reason": "duplicate_url"}
        )
    assert dropped == 2
    assert len(await articles(kafka_bootstrap, topic_prefix)) == 1


async def test_two_workers_share_the_seen_set(kafka_bootstrap: str, topic_prefix: str) -> None:
    """Copies keyed differently land on other partitions, so on the other worker; the table
    each worker follows still knows them."""
    settings = settings_for(kafka_bootstrap, topic_prefix)
    raw_topic = topic_prefix + topics.RAW.name
    originals = [raw_event(generated_article(i)) for i in range(30)]
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        async with ingest(settings) as first, ingest(settings) as second:

            async def both_assigned() -> bool:
                label = {"service": "ingest"}
                return all(
                    (r.get_sample_value("newswire_assigned_partitions", label) or 0) > 0
                    for r in (first, second)
                )

            await wait_until(both_assigned, 30, "both workers to hold partitions")
            for event in originals:
                await producer.send(raw_topic, event.model_dump_json().encode(), key=raw_key(event))
            await producer.flush()

            async def consumed(n: int) -> bool:
                return await count_consumed(first) + await count_consumed(second) >= n

            await wait_until(lambda: consumed(30), 60, "the originals consumed")
            assert await count_consumed(first) > 0
            assert await count_consumed(second) > 0
            # Same content, another key: spread over all partitions, hence both workers.
            for i, event in enumerate(originals):
                await producer.send(
                    raw_topic, event.model_dump_json().encode(), key=f"copy-{i}".encode()
                )
            await producer.flush()
            await wait_until(lambda: consumed(60), 60, "the copies consumed")
    finally:
        await producer.stop()
    out = await articles(kafka_bootstrap, topic_prefix)
    assert len(out) == 30
    assert len({a.article_id for a in out}) == 30


async def test_dead_letter_replay_after_a_fix(kafka_bootstrap: str, topic_prefix: str) -> None:
    strict = settings_for(kafka_bootstrap, topic_prefix, limits=IngestLimits(max_title_chars=20))
    raw_topic = topic_prefix + topics.RAW.name
    dlq_topic = topic_prefix + "news.raw.dlq"
    long_title = "A headline that is longer than twenty characters"
    event = raw_event(json.dumps({"title": long_title, "body": "Text."}))
    async with ingest(strict):
        await produce_raw(strict.kafka, raw_topic, [event])
        dead = [
            r async for r in read_topic(kafka_bootstrap, dlq_topic, max_records=1, idle_timeout=30)
        ]
    assert dlq.header_map(dead[0].headers)[dlq.REASON] == "title_too_long"
    assert await articles(kafka_bootstrap, topic_prefix) == []

    fixed = settings_for(kafka_bootstrap, topic_prefix)  # default limits: the fix
    report = await replay(fixed.kafka, dlq_topic, group=f"{topic_prefix}replay")
    assert (report.replayed, report.skipped) == (1, 0)
    assert report.targets == {raw_topic: 1}
    again = await replay(fixed.kafka, dlq_topic, group=f"{topic_prefix}replay")
    assert again.replayed == 0  # progress is remembered

    async with ingest(fixed):

        async def delivered() -> bool:
            return len(await articles(kafka_bootstrap, topic_prefix)) == 1

        await wait_until(delivered, 30, "the replayed article")
    [article] = await articles(kafka_bootstrap, topic_prefix)
    assert article.title == long_title
    replayed = [r async for r in read_topic(kafka_bootstrap, raw_topic, idle_timeout=1)][-1]
    headers = dlq.header_map(replayed.headers)
    assert headers[dlq.REPLAYED_FROM].startswith(dlq_topic)
    assert dlq.REASON not in headers
    assert RawArticleEvent.model_validate_json(replayed.value) == event


@pytest.mark.parametrize("guarantee", ["at_least_once", "exactly_once"])
async def test_a_step_pool_gives_the_articles_and_dead_letters_of_the_inline_step(
    kafka_bootstrap: str, topic_prefix: str, guarantee: str
) -> None:
    """One worker with two step-pool processes (services/runtime/parallel.py), under each
    guarantee: the articles of every format, duplicates dropped, bad input and a feed's bad
    item dead-lettered with their reasons, the envelope that is not one too."""
    settings = settings_for(
        kafka_bootstrap, topic_prefix, step_processes=2, processing_guarantee=guarantee
    )
    raw_topic = topic_prefix + topics.RAW.name
    events = [
        raw_event((FIXTURES / "html/og-article.html").read_text(), content_type="text/html"),
        raw_event(
            (FIXTURES / "feed/rss-bad-item.xml").read_text(), content_type="application/rss+xml"
        ),
        raw_event(
            (FIXTURES / "feed/billion-laughs.xml").read_text(), content_type="application/xml"
        ),
        *(raw_event(generated_article(i)) for i in range(40)),
    ]
    events.append(events[5])  # a copy: dropped
    unsafe = events[2]
    expected = {
        a.article_id
        for e in events
        if e is not unsafe
        for a in normalize(e, policy_from(settings)).articles
    }
    async with ingest(settings):
        await produce_raw(settings.kafka, raw_topic, events)
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(raw_topic, b'{"not": "an envelope"}', key=b"odd")
        finally:
            await producer.stop()
        dead = [
            r
            async for r in read_topic(
                kafka_bootstrap, topic_prefix + "news.raw.dlq", max_records=3, idle_timeout=30
            )
        ]

        async def all_out() -> bool:
            return len(await articles(kafka_bootstrap, topic_prefix)) >= len(expected)

        await wait_until(all_out, 60, "every article")
    out = await articles(kafka_bootstrap, topic_prefix)
    assert sorted(a.article_id for a in out) == sorted(expected)
    reasons = sorted(dlq.header_map(r.headers)[dlq.REASON] for r in dead)
    assert reasons == sorted(["items_rejected", "invalid_envelope", "unsafe_xml"])
