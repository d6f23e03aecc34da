"""A subscription's dry run: which of some enriched articles it matches, and why. Pure.

The articles are the last ones the notify worker matched (:class:`RecentArticles`): the
same documents, with the same enrichment, that the live matcher saw, held in a bounded
buffer so a dry run costs no broker round trip and no unbounded memory.
"""

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from schemas.enriched import EnrichedArticle
from schemas.subscription import DryRunMatch, DryRunResult
from services.notify.subscriptions import Matchable, rule_of
from services.query import evaluate
from services.query.article import enriched_document
from services.query.explain import explain


class RecentArticles:
    """The last ``size`` enriched articles, oldest first."""

    def __init__(self, size: int) -> None:
        # Appended by the step and read by the API on one event loop: no lock needed.
        self._items: deque[EnrichedArticle] = deque(maxlen=size)

    def add(self, enriched: EnrichedArticle) -> None:
        self._items.append(enriched)

    def snapshot(self) -> list[EnrichedArticle]:
        return list(self._items)

    def __len__(self) -> int:
        return len(self._items)


SNIPPET_CHARS = 280


@dataclass(frozen=True)
class Draft:
    """A query not saved as a subscription yet (the console's live preview)."""

    query: str | None
    topics: Sequence[str] = ()
    min_score: float = 0.0
    id: str = "preview"
    name: str = "preview"


def snippet(enriched: EnrichedArticle, limit: int = SNIPPET_CHARS) -> str:
    """The start of the summary, else of the body, cut at a word."""
    article = enriched.article
    text = " ".join(article.summary) or article.body
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + " …"


def dry_run(
    sub: Matchable, articles: Iterable[EnrichedArticle], limit: int | None = None
) -> DryRunResult:
    """Evaluates ``sub`` as the matcher does, newest article first; explains each match
    (the first ``limit`` of them, when given)."""
    rule = rule_of(sub)
    checked = 0
    matches: list[DryRunMatch] = []
    for enriched in reversed(list(articles)):
        if limit is not None and len(matches) >= limit:
            break
        checked += 1
        hits = [t for t in enriched.topics if t.id in sub.topics and t.score >= sub.min_score]
        if sub.topics and not hits:
            continue
        lines: list[str] = []
        if sub.topics:
            found_topics = ", ".join(f"{t.id} ({t.score:.2f})" for t in hits)
            lines.append(f"✓ any of topics {list(sub.topics)} at ≥ {sub.min_score}: {found_topics}")
        score, terms = 1.0, sorted({term for t in hits for term in t.matched})
        if rule is not None:
            doc = enriched_document(enriched)
            found = evaluate(rule, doc)
            if not found.matched or found.score < sub.min_score:
                continue
            score = found.score
            terms = sorted(set(terms) | set(found.terms))
            lines += explain(rule, doc)
        article = enriched.article
        matches.append(
            DryRunMatch(
                article_id=article.article_id,
                title=article.title,
                url=article.url,
                published_at=article.published_at,
                score=score,
                matched_topics=[t.id for t in hits],
                matched_terms=terms,
                explanation=lines,
                source=article.source,
                snippet=snippet(enriched),
            )
        )
    return DryRunResult(subscription_id=sub.id, articles_checked=checked, matches=matches)
