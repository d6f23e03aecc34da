"""Articles as the query language reads them; shared by enrich (topics) and notify."""

from schemas.article import Article
from schemas.enriched import EnrichedArticle
from services.query.document import QueryDocument


def article_document(
    article: Article,
    *,
    sentiment: float | None = None,
    entities: frozenset[str] = frozenset(),
    topics: frozenset[str] = frozenset(),
) -> QueryDocument:
    """The background section counts as body text."""
    body = f"{article.body}\n\n{article.context}" if article.context else article.body
    return QueryDocument.build(
        article.title,
        article.summary,
        body,
        entities=entities,
        topics=topics,
        lang=article.language,
        source=article.source,
        sentiment=sentiment,
    )


def enriched_document(enriched: EnrichedArticle) -> QueryDocument:
    """What notify matches subscriptions against: text plus enrich's entities, tags and tone."""
    return article_document(
        enriched.article,
        sentiment=enriched.sentiment.score,
        entities=frozenset(e.id for e in enriched.entities),
        topics=frozenset(t.id for t in enriched.topics),
    )
