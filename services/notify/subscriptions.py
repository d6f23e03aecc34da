"""Subscriptions: loading them, and matching an enriched article against them. Pure."""

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.alert import Alert
from schemas.enriched import EnrichedArticle
from services.notify.percolator import Percolator
from services.query import Node, QueryDocument, QuerySyntaxError, evaluate, parse
from services.query.article import enriched_document
from services.query.parser import MAX_QUERY_CHARS


class Delivery(StrEnum):
    """Local delivery targets; every alert is on news.alerts whatever the target."""

    log = "log"  # a structured "alert_delivered" log line
    stdout = "stdout"  # the alert as one JSON line on the worker's stdout


@lru_cache(maxsize=100_000)
def compiled(query: str) -> Node:
    """Parsed once per distinct query text."""
    return parse(query)


class Subscription(BaseModel):
    """What a subscriber wants: taxonomy topics, a query in the shared language, or both
    (then both must hold)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._:-]+$")
    name: str = Field(min_length=1, max_length=200)
    topics: list[str] = Field(default_factory=list, description="Any of these tags matches.")
    query: str | None = Field(
        default=None,
        max_length=MAX_QUERY_CHARS,
        description="e.g. '\"security guarantee*\" NEAR/10 ukrain* AND lang:en'",
    )
    min_score: float = Field(default=0.0, ge=0.0, le=1.0)
    delivery: list[Delivery] = Field(default_factory=lambda: [Delivery("log")])

    @model_validator(mode="after")
    def _wants_something(self) -> "Subscription":
        if not self.topics and not self.query:
            raise ValueError("a subscription needs topics, a query, or both")
        if self.query:
            try:
                parse(self.query)
            except QuerySyntaxError as exc:
                raise ValueError(f"query: {exc.message} at character {exc.position}") from exc
        return self

    @property
    def rule(self) -> Node | None:
        # Not a cached_property: model_copy(update=...) would carry a stale compiled rule.
        return compiled(self.query) if self.query else None


class SubscriptionFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subscriptions: list[Subscription]


def load_subscriptions(path: Path) -> list[Subscription]:
    text = path.read_text(encoding="utf-8")
    data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    subs = SubscriptionFile.model_validate(data).subscriptions
    ids = [s.id for s in subs]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise ValueError(f"duplicate subscription ids in {path}: {duplicated}")
    return subs


def alert_id(subscription_id: str, article_id: str) -> str:
    return hashlib.blake2b(f"{subscription_id}\n{article_id}".encode(), digest_size=16).hexdigest()


def _satisfies(sub: Subscription, enriched: EnrichedArticle, doc: QueryDocument) -> bool:
    if sub.topics and not any(
        t.id in sub.topics and t.score >= sub.min_score for t in enriched.topics
    ):
        return False
    if sub.rule is None:
        return True
    found = evaluate(sub.rule, doc)
    return found.matched and found.score >= sub.min_score


def _alert(
    sub: Subscription, enriched: EnrichedArticle, doc: QueryDocument, created: datetime
) -> Alert | None:
    """The alert ``sub`` raises for this article, or None: the full check of one candidate."""
    hits = [t for t in enriched.topics if t.id in sub.topics and t.score >= sub.min_score]
    if sub.topics and not hits:
        return None
    query_terms: list[str] = []
    if sub.rule is not None:
        found = evaluate(sub.rule, doc)
        if not found.matched or found.score < sub.min_score:
            return None
        query_terms = found.terms
    article = enriched.article
    return Alert(
        alert_id=alert_id(sub.id, article.article_id),
        subscription_id=sub.id,
        subscription_name=sub.name,
        article_id=article.article_id,
        title=article.title,
        url=article.url,
        source=article.source,
        published_at=article.published_at,
        matched_topics=[t.id for t in hits],
        matched_terms=sorted({term for t in hits for term in t.matched} | set(query_terms)),
        sentiment=enriched.sentiment,
        created_at=created,
    )


class SubscriptionIndex:
    """Subscriptions behind a percolator: an article is verified only against candidates."""

    def __init__(self, subscriptions: Iterable[Subscription]) -> None:
        self.by_id: dict[str, Subscription] = {}
        self.percolator = Percolator()
        for sub in subscriptions:
            self.by_id[sub.id] = sub
            self.percolator.add(sub.id, sub.topics, sub.rule)

    def matching(self, enriched: EnrichedArticle) -> list[str]:
        """Ids of the subscriptions the article satisfies (no alerts built)."""
        doc = enriched_document(enriched)
        return [
            sub_id
            for sub_id in sorted(self.percolator.candidates(doc))
            if _satisfies(self.by_id[sub_id], enriched, doc)
        ]

    def match(self, enriched: EnrichedArticle, now: datetime | None = None) -> list[Alert]:
        created = now or datetime.now(UTC)
        doc = enriched_document(enriched)
        alerts = []
        for sub_id in sorted(self.percolator.candidates(doc)):
            alert = _alert(self.by_id[sub_id], enriched, doc, created)
            if alert is not None:
                alerts.append(alert)
        return alerts


def match(
    enriched: EnrichedArticle, subscriptions: list[Subscription], now: datetime | None = None
) -> list[Alert]:
    """One alert per subscription the article satisfies (builds a throwaway index)."""
    return SubscriptionIndex(subscriptions).match(enriched, now)


def match_naive(
    enriched: EnrichedArticle, subscriptions: list[Subscription], now: datetime | None = None
) -> list[Alert]:
    """Every subscription checked in turn: the baseline bench/percolate.py measures against."""
    created = now or datetime.now(UTC)
    doc = enriched_document(enriched)
    return [a for s in subscriptions if (a := _alert(s, enriched, doc, created)) is not None]
