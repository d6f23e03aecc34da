"""A subscription's dry run: which of some enriched articles it matches, and why. Pure.

The articles are the last ones the notify worker matched (:class:`RecentArticles`): the
same documents, with the same enrichment, that the live matcher saw, held in a bounded
buffer so a dry run costs no broker round trip and no unbounded memory.
"""

from collections import deque
from collections.abc import Iterable

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


def dry_run(sub: Matchable, articles: Iterable[EnrichedArticle]) -> DryRunResult:
    """Evaluates ``sub`` as the matcher does, newest article first; explains each match."""
    rule = rule_of(sub)
    checked = 0
    matches: list[DryRunMatch] = []
    for enriched in reversed(list(articles)):
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
            )
        )
    return DryRunResult(subscription_id=sub.id, articles_checked=checked, matches=matches)
