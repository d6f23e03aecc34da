"""Topic name ↔ model ↔ key: the one place topic names are spelled."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from schemas.alert import Alert
from schemas.article import Article
from schemas.enriched import EnrichedArticle
from schemas.raw import RawArticleEvent
from schemas.subscription import Subscription

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class TopicSpec(Generic[M]):
    """A Kafka topic's contract: its base name, payload model and how records are keyed."""

    name: str
    model: type[M]
    key_doc: str
    key_of: Callable[[M], str] | None = None
    dlq: str | None = None
    """Where records that cannot be processed go, if the topic is a stage's input."""


def _article_key(a: Article) -> str:
    return a.article_id


def _enriched_key(e: EnrichedArticle) -> str:
    return e.article.article_id


def _alert_key(a: Alert) -> str:
    return a.subscription_id


def _subscription_key(s: Subscription) -> str:
    return s.id


RAW: TopicSpec[RawArticleEvent] = TopicSpec(
    "news.raw",
    RawArticleEvent,
    "scraper's choice (the URL when it has one); null allowed",
    dlq="news.raw.dlq",
)
ARTICLES: TopicSpec[Article] = TopicSpec(
    "news.articles", Article, "article_id", _article_key, dlq="news.articles.dlq"
)
ENRICHED: TopicSpec[EnrichedArticle] = TopicSpec(
    "news.enriched", EnrichedArticle, "article.article_id", _enriched_key, dlq="news.enriched.dlq"
)
ALERTS: TopicSpec[Alert] = TopicSpec(
    "news.alerts", Alert, "subscription_id", _alert_key, dlq="news.alerts.dlq"
)

# The subscriptions' only store (no database): compacted, a null value deletes.
SUBSCRIPTIONS: TopicSpec[Subscription] = TopicSpec(
    "news.subscriptions",
    Subscription,
    "subscription id; a null value (tombstone) deletes it",
    _subscription_key,
)

ALL: tuple[TopicSpec[Any], ...] = (RAW, ARTICLES, ENRICHED, ALERTS, SUBSCRIPTIONS)


# State changelogs (services/runtime/table.py). Compacted, so the latest value per key stays;
# also deleted after retention.ms, which bounds them to the state's useful life.
INGEST_DEDUP = "news.ingest.dedup"
ENRICH_STORIES = "news.enrich.stories"
# Webhook delivery ledger: alert id -> digest plan or terminal outcome (services/notify/ledger.py).
ALERT_DELIVERIES = "news.alerts.deliveries"
# Webhook attempts: subscription id -> its last 20 attempts (services/notify/attempts.py).
ALERT_ATTEMPTS = "news.alerts.attempts"
NOTIFY_STORY_ALERTS = "news.notify.story_alerts"
_DAY_MS = 24 * 3600 * 1000


def _changelog(retention_days: int) -> dict[str, str]:
    """Compacted and deleted after ``retention_days``; hourly segments, because compaction
    and retention act only on closed segments."""
    return {
        "cleanup.policy": "compact,delete",
        "retention.ms": str(retention_days * _DAY_MS),
        "segment.ms": str(3600 * 1000),
    }


STATE_TOPIC_CONFIGS: dict[str, dict[str, str]] = {
    # Dedup keys matter for the 7-day window; a day more covers restarts and clock skew.
    INGEST_DEDUP: _changelog(8),
    # A story stays open for new reports for 3 days; a day more covers restarts.
    ENRICH_STORIES: _changelog(4),
    # An entry matters until its alert's offset is committed: at most the retry budget (a day
    # by default) plus a restart; two more days of margin.
    ALERT_DELIVERIES: _changelog(3),
    # What the console's Delivery page shows: a subscription's recent attempts, 3 days.
    ALERT_ATTEMPTS: _changelog(3),
    # Story-mode subscriptions' windows last at most 7 days; a day more covers restarts.
    NOTIFY_STORY_ALERTS: _changelog(8),
}
# A dead letter is its input record plus reason headers (up to ~2.5 KB): on a dead-letter
# topic with the broker's default limit (1,048,588 bytes, like its source), an input just
# under that limit could not be dead-lettered, and the worker stopped on it at every restart.
# Dead-letter topics hold the largest record the runtime reads (4 MiB, max_record_bytes) and
# 64 KiB of headers.
DLQ_MAX_MESSAGE_BYTES = 4 * 1024 * 1024 + 64 * 1024
# Data topics with non-default configs. news.subscriptions is the source of truth, so it is
# compacted only: no "delete", its latest value per key never expires.
TOPIC_CONFIGS: dict[str, dict[str, str]] = {
    SUBSCRIPTIONS.name: {"cleanup.policy": "compact"},
    **{
        spec.dlq: {"max.message.bytes": str(DLQ_MAX_MESSAGE_BYTES)}
        for spec in ALL
        if spec.dlq is not None
    },
    **STATE_TOPIC_CONFIGS,
}


def all_topic_names() -> list[str]:
    """Every topic newswire reads or writes: data, dead-letter and state topics."""
    names: list[str] = []
    for spec in ALL:
        names.append(spec.name)
        if spec.dlq:
            names.append(spec.dlq)
    return names + list(STATE_TOPIC_CONFIGS)


def topic_configs(prefix: str = "") -> dict[str, dict[str, str]]:
    """Prefixed topic name → its non-default broker configs, for every newswire topic."""
    return {prefix + n: TOPIC_CONFIGS.get(n, {}) for n in all_topic_names()}
