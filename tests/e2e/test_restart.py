"""Stopping and restarting enrich mid-stream loses nothing (at-least-once)."""

import pytest

from schemas import topics
from schemas.article import Article
from schemas.enriched import EnrichedArticle
from services.runtime.io import produce_raw, read_topic
from services.runtime.settings import KafkaSettings
from tests.e2e.conftest import Spawn
from tests.helpers import generated_article, raw_event
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e


async def ids_in(
    bootstrap: str, topic: str, model: type[Article] | type[EnrichedArticle]
) -> list[str]:
    out = []
    async for r in read_topic(bootstrap, topic, idle_timeout=1):
        m = model.model_validate_json(r.value)
        out.append(m.article_id if isinstance(m, Article) else m.article.article_id)
    return out


@pytest.mark.parametrize("how", ["sigterm", "sigkill", "sigkill-static"])
async def test_restart_enrich_mid_stream(
    kafka_bootstrap: str, topic_prefix: str, spawn: Spawn, how: str
) -> None:
    """``sigkill-static``: enrich with static group membership, its replacement under the
    same id (a crashed container restarted in its pod)."""
    kafka = KafkaSettings(bootstrap=kafka_bootstrap)
    raw_topic = topic_prefix + topics.RAW.name
    articles_topic = topic_prefix + topics.ARTICLES.name
    enriched_topic = topic_prefix + topics.ENRICHED.name
    static = {"NEWSWIRE_KAFKA__GROUP_INSTANCE_ID": "enrich-0"} if how.endswith("static") else {}
    ingest, enrich = spawn("ingest"), spawn("enrich", **static)
    await ingest.wait_ready()
    await enrich.wait_ready()

    await produce_raw(kafka, raw_topic, [raw_event(generated_article(i)) for i in range(150)])

    async def some_enriched() -> bool:
        return len(await ids_in(kafka_bootstrap, enriched_topic, EnrichedArticle)) >= 10

    await wait_until(some_enriched, 60, "enrich to make progress")
    if how == "sigterm":
        assert enrich.stop() == 0
    else:
        enrich.kill()

    # Articles keep arriving while enrich is down.
    await produce_raw(kafka, raw_topic, [raw_event(generated_article(i)) for i in range(150, 300)])
    replacement = spawn("enrich", **static)
    await replacement.wait_ready()

    async def caught_up() -> bool:
        articles = set(await ids_in(kafka_bootstrap, articles_topic, Article))
        enriched = set(await ids_in(kafka_bootstrap, enriched_topic, EnrichedArticle))
        return len(articles) == 300 and enriched == articles

    await wait_until(caught_up, 90, "every article enriched after the restart")
    enriched = await ids_in(kafka_bootstrap, enriched_topic, EnrichedArticle)
    # At-least-once: repeats are allowed (after SIGKILL, the uncommitted tail is re-read),
    # but a clean SIGTERM commits everything it delivered, so it repeats nothing.
    if how == "sigterm":
        assert len(enriched) == 300
    assert replacement.stop() == 0
    assert ingest.stop() == 0
