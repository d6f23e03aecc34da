"""enrich against the real broker: story state survives a restart through its changelog."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client import CollectorRegistry

from schemas import topics
from schemas.article import Article
from schemas.enriched import EnrichedArticle
from services.enrich.settings import EnrichSettings
from services.enrich.step import build_worker
from services.ingest.normalize import NormalizePolicy, normalize, single_article
from services.runtime.app import run_worker
from services.runtime.io import read_topic
from services.runtime.settings import CommitSettings, HttpSettings, KafkaSettings
from tests.helpers import fixture_event, raw_event, seed_text
from tests.waiting import wait_until

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def enrich_worker(
    bootstrap: str, prefix: str, step_processes: int = 0
) -> AsyncIterator[None]:
    settings = EnrichSettings(
        kafka=KafkaSettings(bootstrap=bootstrap),
        http=HttpSettings(port=0),
        topic_prefix=prefix,
        commit=CommitSettings(every_seconds=0.2),
        step_processes=step_processes,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_worker(build_worker(settings), settings, stop=stop, registry=CollectorRegistry())
    )
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def publish(bootstrap: str, topic: str, article: Article) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            topic, article.model_dump_json().encode(), key=article.article_id.encode()
        )
    finally:
        await producer.stop()


async def enriched(bootstrap: str, prefix: str) -> dict[str, EnrichedArticle]:
    out = {}
    async for r in read_topic(bootstrap, prefix + topics.ENRICHED.name, idle_timeout=1):
        e = EnrichedArticle.model_validate_json(r.value)
        out[e.article.article_id] = e
    return out


@pytest.mark.parametrize("step_processes", [0, 2], ids=["inline", "step-pool"])
async def test_a_rewrite_joins_the_story_after_a_restart(
    kafka_bootstrap: str, topic_prefix: str, step_processes: int
) -> None:
    """With a step pool the analysis runs in child processes and the story lookup in the
    worker's own: the story state still carries over through news.enrich.stories."""
    seed = single_article(raw_event(seed_text()))
    rewrite = normalize(fixture_event("html/og-article.html"), NormalizePolicy()).articles[0]
    source = topic_prefix + topics.ARTICLES.name

    async with enrich_worker(kafka_bootstrap, topic_prefix, step_processes):
        await publish(kafka_bootstrap, source, seed)

        async def first_done() -> bool:
            return seed.article_id in await enriched(kafka_bootstrap, topic_prefix)

        await wait_until(first_done, 30, "the first article enriched")

    # A new worker knows the story only through news.enrich.stories.
    async with enrich_worker(kafka_bootstrap, topic_prefix, step_processes):
        await publish(kafka_bootstrap, source, rewrite)

        async def second_done() -> bool:
            return rewrite.article_id in await enriched(kafka_bootstrap, topic_prefix)

        await wait_until(second_done, 30, "the rewrite enriched")

    out = await enriched(kafka_bootstrap, topic_prefix)
    assert out[seed.article_id].story_id == seed.article_id
    assert out[rewrite.article_id].story_id == seed.article_id
    assert {e.id for e in out[rewrite.article_id].entities} >= {"UA", "person:keir-starmer"}
    assert "ukraine-security-guarantees" in {t.id for t in out[seed.article_id].topics}
