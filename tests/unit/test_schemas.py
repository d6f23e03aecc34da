"""Contracts: committed JSON Schema files match the models, and real records validate."""

import json

import jsonschema

from schemas.export import SCHEMA_DIR, rendered
from schemas.topics import ALL, all_topic_names, topic_configs
from services.enrich.entities import load_gazetteer
from services.enrich.settings import DEFAULT_GAZETTEER, DEFAULT_TAXONOMY
from services.enrich.step import enrich
from services.enrich.taxonomy import load_taxonomy
from services.ingest.normalize import single_article
from services.notify.settings import DEFAULT_SUBSCRIPTIONS
from services.notify.subscriptions import load_subscriptions, match
from tests.helpers import raw_event, seed_text


def test_committed_schemas_are_current() -> None:
    """Fails when a model changed without `newswire schemas export`."""
    for name, text in rendered().items():
        path = SCHEMA_DIR / name
        assert path.exists(), f"{name} missing: run newswire schemas export"
        assert path.read_text(encoding="utf-8") == text, (
            f"{name} stale: run newswire schemas export"
        )


def test_every_record_of_the_seed_path_validates_against_its_schema() -> None:
    raw = raw_event(seed_text(), url="https://example.com/a")
    article = single_article(raw)
    enriched = enrich(article, load_taxonomy(DEFAULT_TAXONOMY), load_gazetteer(DEFAULT_GAZETTEER))
    [alert] = match(enriched, load_subscriptions(DEFAULT_SUBSCRIPTIONS))
    records = {
        "news.raw": raw,
        "news.articles": article,
        "news.enriched": enriched,
        "news.alerts": alert,
    }
    for topic, model in records.items():
        schema = json.loads((SCHEMA_DIR / f"{topic}.schema.json").read_text())
        jsonschema.validate(json.loads(model.model_dump_json()), schema)


def test_every_model_is_versioned() -> None:
    for spec in ALL:
        assert "schema_version" in spec.model.model_fields


def test_topic_names_include_dead_letter_and_state_topics() -> None:
    assert all_topic_names() == [
        "news.raw",
        "news.raw.dlq",
        "news.articles",
        "news.articles.dlq",
        "news.enriched",
        "news.enriched.dlq",
        "news.alerts",
        "news.alerts.dlq",
        "news.subscriptions",
        "news.ingest.dedup",
        "news.enrich.stories",
        "news.alerts.deliveries",
        "news.alerts.attempts",
        "news.notify.story_alerts",
    ]


def test_subscriptions_topic_is_compacted_and_never_expires() -> None:
    """news.subscriptions is the only store of subscriptions: compaction only, no deletion."""
    assert topic_configs("p.")["p.news.subscriptions"] == {"cleanup.policy": "compact"}
