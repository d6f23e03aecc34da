"""Subscriptions: matching an enriched article against them, and the seed file. Pure.

Stored subscriptions (``schemas.subscription.Subscription``, on ``news.subscriptions``) and
the lighter :class:`Subscription` here (tests, benchmarks) both satisfy :class:`Matchable`:
the fields matching reads.
"""

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.alert import Alert
from schemas.enriched import EnrichedArticle
from schemas.subscription import SUBSCRIPTION_ID, SubscriptionCreate, check_query
from services.notify.percolator import Percolator
from services.query import Node, QueryDocument, QuerySyntaxError, evaluate, parse
from services.query.article import enriched_document
from services.query.evaluate import Match
from services.query.parser import MAX_QUERY_CHARS


class Matchable(Protocol):
    """What matching reads of a subscription."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def topics(self) -> Sequence[str]: ...
    @property
    def query(self) -> str | None: ...
    @property
    def min_score(self) -> float: ...


@lru_cache(maxsize=100_000)
def compiled(query: str) -> Node:
    """Parsed once per distinct query text."""
    return parse(query)


def rule_of(sub: Matchable) -> Node | None:
    return compiled(sub.query) if sub.query else None


class Subscription(BaseModel):
    """Just what matching needs: taxonomy topics, a query in the shared language, or both
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
        return rule_of(self)


class SeedSubscription(SubscriptionCreate):
    """One entry of a seed file: a create request with the id chosen by the file, so loading
    it again replaces rather than duplicates (``newswire subscriptions load``)."""

    id: str = Field(pattern=SUBSCRIPTION_ID)

    _query = field_validator("query")(check_query)


class SeedFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subscriptions: list[SeedSubscription]


def load_subscriptions(path: Path) -> list[SeedSubscription]:
    """A seed file (YAML or JSON): ``{subscriptions: [...]}``; duplicate ids are an error."""
    text = path.read_text(encoding="utf-8")
    data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    subs = SeedFile.model_validate(data).subscriptions
    ids = [s.id for s in subs]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise ValueError(f"duplicate subscription ids in {path}: {duplicated}")
    return subs


def alert_id(subscription_id: str, article_id: str) -> str:
    return hashlib.blake2b(f"{subscription_id}\n{article_id}".encode(), digest_size=16).hexdigest()


class RuleResults:
    """Each distinct rule evaluated once per article. Subscribers share queries (a thousand
    alerts on "sentiment:<-0.6", a popular keyword), and ``compiled`` returns one node per
    query text, so a shared query costs one evaluation however many subscribe to it."""

    def __init__(self, doc: QueryDocument) -> None:
        self.doc = doc
        # Keyed by identity; the entry holds the node so its id is not reused meanwhile.
        self._results: dict[int, tuple[Node, Match]] = {}

    def __call__(self, rule: Node) -> Match:
        entry = self._results.get(id(rule))
        if entry is None or entry[0] is not rule:
            entry = (rule, evaluate(rule, self.doc))
            self._results[id(rule)] = entry
        return entry[1]


def _satisfies(sub: Matchable, enriched: EnrichedArticle, results: RuleResults) -> bool:
    if sub.topics and not any(
        t.id in sub.topics and t.score >= sub.min_score for t in enriched.topics
    ):
        return False
    rule = rule_of(sub)
    if rule is None:
        return True
    found = results(rule)
    return found.matched and found.score >= sub.min_score


def _alert(
    sub: Matchable, enriched: EnrichedArticle, results: RuleResults, created: datetime
) -> Alert | None:
    """The alert ``sub`` raises for this article, or None: the full check of one candidate."""
    hits = [t for t in enriched.topics if t.id in sub.topics and t.score >= sub.min_score]
    if sub.topics and not hits:
        return None
    query_terms: list[str] = []
    rule = rule_of(sub)
    if rule is not None:
        found = results(rule)
        if not found.matched or found.score < sub.min_score:
            return None
        query_terms = found.terms
    article = enriched.article
    # model_construct: every value comes from the validated article and subscription, and
    # an article can raise hundreds of alerts (validation was ~10 µs of each).
    return Alert.model_construct(
        alert_id=alert_id(sub.id, article.article_id),
        subscription_id=sub.id,
        subscription_name=sub.name,
        article_id=article.article_id,
        story_id=enriched.story_id,
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
    """Subscriptions behind a percolator: an article is verified only against candidates.

    Kept in step with ``news.subscriptions`` by :meth:`upsert` and :meth:`remove`."""

    def __init__(self, subscriptions: Iterable[Matchable] = ()) -> None:
        self.by_id: dict[str, Matchable] = {}
        self.percolator = Percolator()
        # Candidates the percolator proposed for the last article matched (a metric).
        self.last_candidates = 0
        for sub in subscriptions:
            self.upsert(sub)

    def upsert(self, sub: Matchable) -> None:
        """Adds a subscription, or replaces the one with its id."""
        self.by_id[sub.id] = sub
        self.percolator.add(sub.id, sub.topics, rule_of(sub))

    def remove(self, subscription_id: str) -> None:
        self.by_id.pop(subscription_id, None)
        self.percolator.remove(subscription_id)

    def __len__(self) -> int:
        return len(self.by_id)

    def matching(self, enriched: EnrichedArticle) -> list[str]:
        """Ids of the subscriptions the article satisfies (no alerts built)."""
        doc = enriched_document(enriched)
        results = RuleResults(doc)
        return [
            sub_id
            for sub_id in sorted(self.percolator.candidates(doc))
            if _satisfies(self.by_id[sub_id], enriched, results)
        ]

    def match(self, enriched: EnrichedArticle, now: datetime | None = None) -> list[Alert]:
        created = now or datetime.now(UTC)
        doc = enriched_document(enriched)
        results = RuleResults(doc)
        alerts = []
        candidates = self.percolator.candidates(doc)
        self.last_candidates = len(candidates)
        for sub_id in sorted(candidates):
            alert = _alert(self.by_id[sub_id], enriched, results, created)
            if alert is not None:
                alerts.append(alert)
        return alerts


def match(
    enriched: EnrichedArticle, subscriptions: Sequence[Matchable], now: datetime | None = None
) -> list[Alert]:
    """One alert per subscription the article satisfies (builds a throwaway index)."""
    return SubscriptionIndex(subscriptions).match(enriched, now)


def match_naive(
    enriched: EnrichedArticle, subscriptions: Sequence[Matchable], now: datetime | None = None
) -> list[Alert]:
    """Every subscription checked in turn: the baseline bench/percolate.py measures against."""
    created = now or datetime.now(UTC)
    results = RuleResults(enriched_document(enriched))  # shared queries evaluated once here too
    return [a for s in subscriptions if (a := _alert(s, enriched, results, created)) is not None]
