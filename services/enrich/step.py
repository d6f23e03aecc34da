"""The enrich worker: an article in, the article with topic tags and sentiment out."""

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import structlog
from pydantic import ValidationError

from schemas import topics
from schemas.article import Article
from schemas.enriched import EnrichedArticle
from services.enrich import sentiment
from services.enrich.entities import Gazetteer, load_gazetteer
from services.enrich.keywords import keywords
from services.enrich.settings import EnrichSettings
from services.enrich.stories import StoryIndex, StoryShingles, story_table
from services.enrich.taxonomy import Taxonomy, load_taxonomy, tag
from services.query.article import article_document
from services.query.document import QueryDocument
from services.runtime.clock import wall_clock_ms
from services.runtime.errors import InvalidMessage
from services.runtime.parallel import Prepare
from services.runtime.worker import Encoded, StepContext, Worker

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


# What each step-pool child enriches once at start: the rules, automata and lexicons load
# before the first batch.
_WARM_TIME = datetime(2025, 1, 1, tzinfo=UTC)
WARM_ARTICLE = (
    Article(
        article_id="0" * 32,
        source="warm-up",
        title="Starmer and Macron discuss security guarantees for Ukraine",
        body="Kyiv asked its allies in London, Paris and Washington for security guarantees.",
        published_at=_WARM_TIME,
        fetched_at=_WARM_TIME,
        language="en",
        content_type="text/plain",
    )
    .model_dump_json()
    .encode()
)


# How story_id reads in the JSON of an EnrichedArticle built without a story. Inside a JSON
# string every quote is escaped, so this can only be the top-level field.
_NO_STORY = b'"story_id":null'


@dataclass(frozen=True)
class Analysis:
    """enrich's prepare half for one article: the EnrichedArticle's JSON with no story yet,
    and what the story lookup needs (the story table is state: the lookup runs in the loop's
    process). JSON, not the model: it crosses the process boundary as bytes."""

    enriched_json: bytes
    topic_ids: tuple[str, ...]
    shingles: StoryShingles

    def with_story(self, story_id: str) -> bytes:
        """The JSON with ``story_id`` set (what ``model_copy(update=...)`` then
        ``model_dump_json()`` give, tests/unit/test_step_pool.py)."""
        if self.enriched_json.count(_NO_STORY) != 1:
            raise ValueError("an enriched article's JSON without exactly one null story_id")
        return self.enriched_json.replace(
            _NO_STORY, b'"story_id":' + json.dumps(story_id).encode(), 1
        )


@dataclass(frozen=True)
class Analyzer:
    """The taxonomy, gazetteer and sentiment model, loaded once per process."""

    taxonomy: Taxonomy
    gazetteer: Gazetteer
    model: sentiment.SentimentModel

    def analyze(self, article: Article) -> Analysis:
        doc = article_document(article)  # read by the story lookup and the topic rules
        enriched = enrich(article, self.taxonomy, self.gazetteer, self.model, document=doc)
        return Analysis(
            enriched.model_dump_json().encode(),
            tuple(t.id for t in enriched.topics),
            StoryShingles.of(article, doc),
        )


@lru_cache(maxsize=4)
def analyzer_for(taxonomy_path: Path, gazetteer_path: Path, sentiment_model: str) -> Analyzer:
    return Analyzer(
        load_taxonomy(taxonomy_path),
        load_gazetteer(gazetteer_path),
        sentiment.load_model(sentiment_model),
    )


def analyze_value(value: bytes | None, settings: EnrichSettings) -> Analysis | InvalidMessage:
    """The worker's prepare half (pure; in a step pool's children when ``step_processes`` is
    set). The models load once per process (``analyzer_for``); only the settings travel with
    each chunk. A value that is not an Article is the runtime's to dead-letter."""
    try:
        article = Article.model_validate_json(value or b"")
    except ValidationError as exc:
        return InvalidMessage("invalid_envelope", str(exc)[:300])
    analyzer = analyzer_for(
        settings.taxonomy_path, settings.gazetteer_path, settings.sentiment_model
    )
    return analyzer.analyze(article)


def build_worker(settings: EnrichSettings) -> Worker[Article, EnrichedArticle]:
    analyzer = analyzer_for(
        settings.taxonomy_path, settings.gazetteer_path, settings.sentiment_model
    )
    table = story_table(
        topics.ENRICH_STORIES,
        settings.story_window_ms,
        wall_clock_ms,
        settings.story_max_articles,
    )
    stories = StoryIndex(table, settings.story_threshold)

    async def step(article: Article, ctx: StepContext) -> Encoded:
        prepared = ctx.prepared
        if isinstance(prepared, InvalidMessage):
            raise prepared
        analysis = prepared if isinstance(prepared, Analysis) else analyzer.analyze(article)
        story, similarity, record = stories.assign(
            article, wall_clock_ms(), shingles=analysis.shingles
        )
        if record is not None:
            ctx.emit(record)
        log.info(
            "article_enriched",
            topics=list(analysis.topic_ids),
            story_id=story,
            story_similarity=similarity,
        )
        return Encoded(article.article_id.encode(), analysis.with_story(story))

    return Worker(
        "enrich",
        source=topics.ARTICLES,
        sink=topics.ENRICHED,
        step=step,
        tables=(table,),
        prepare=Prepare(analyze_value, (settings,), warm=WARM_ARTICLE),
    )
