"""The enrich worker: an article in, the article with topic tags and sentiment out."""

from dataclasses import replace
from functools import lru_cache

import structlog

from schemas import topics
from schemas.article import Article
from schemas.enriched import EnrichedArticle
from services.enrich import sentiment
from services.enrich.entities import Gazetteer, load_gazetteer
from services.enrich.keywords import keywords
from services.enrich.settings import EnrichSettings
from services.enrich.stories import StoryIndex, story_table
from services.enrich.taxonomy import Taxonomy, load_taxonomy, tag
from services.query.article import article_document
from services.query.document import QueryDocument
from services.runtime.clock import wall_clock_ms
from services.runtime.worker import StepContext, Worker

log = structlog.get_logger("newswire.enrich")


@lru_cache(maxsize=1)
def default_model() -> sentiment.SentimentModel:
    # English by the news-tuned VADER model, unchanged; German and French by their packaged
    # polarity lexicons; other languages reliable=false (services/enrich/sentiment.py).
    return sentiment.MultilingualModel()


def enrich(
    article: Article,
    taxonomy: Taxonomy,
    gazetteer: Gazetteer,
    model: sentiment.SentimentModel | None = None,
    story_id: str | None = None,
    document: QueryDocument | None = None,
) -> EnrichedArticle:
    """Entities and sentiment first: topic rules may test both (entity:UA, sentiment:<0).

    ``document``: ``article_document(article)`` if the caller built it already (the story
    lookup reads its words); the sentiment and entities found here are added to a copy."""
    model = model or default_model()
    tone = sentiment.score(article, model)
    located = gazetteer.locate(article)
    per_entity: dict[str, float] = {}
    if tone.reliable:
        per_entity = sentiment.entity_scores(
            ((text, [(start, eid) for start, _, eid in found]) for text, found in located.values()),
            model,
            article.language,
        )
    entities = gazetteer.mentions(located, per_entity)
    entity_ids = frozenset(e.id for e in entities)
    if document is None:
        doc = article_document(article, sentiment=tone.score, entities=entity_ids)
    else:
        doc = replace(document, sentiment=tone.score, entities=entity_ids)
    return EnrichedArticle(
        article=article,
        topics=tag(doc, taxonomy),
        entities=entities,
        keywords=keywords(article),
        sentiment=tone,
        story_id=story_id,
        taxonomy_version=taxonomy.version,
    )


def build_worker(settings: EnrichSettings) -> Worker[Article, EnrichedArticle]:
    taxonomy = load_taxonomy(settings.taxonomy_path)
    gazetteer = load_gazetteer(settings.gazetteer_path)
    table = story_table(topics.ENRICH_STORIES, settings.story_window_ms, wall_clock_ms)
    stories = StoryIndex(table, settings.story_threshold)
    model = sentiment.load_model(settings.sentiment_model)

    async def step(article: Article, ctx: StepContext) -> EnrichedArticle:
        doc = article_document(article)  # read by the story lookup and the topic rules
        story, similarity, record = stories.assign(article, wall_clock_ms(), doc)
        if record is not None:
            ctx.emit(record)
        enriched = enrich(article, taxonomy, gazetteer, model, story_id=story, document=doc)
        log.info(
            "article_enriched",
            topics=[t.id for t in enriched.topics],
            story_id=story,
            story_similarity=similarity,
        )
        return enriched

    return Worker(
        "enrich", source=topics.ARTICLES, sink=topics.ENRICHED, step=step, tables=(table,)
    )
