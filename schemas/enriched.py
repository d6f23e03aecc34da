"""``news.enriched``: an article with what enrich learned about it."""

from typing import Literal

from pydantic import Field

from schemas._base import Contract
from schemas.article import Article


class Evidence(Contract):
    """A piece of text that satisfied a rule, and the field it stood in."""

    text: str
    field: str = Field(examples=["title", "summary", "body"])


class TopicTag(Contract):
    """One taxonomy topic the article was tagged with, and why."""

    id: str = Field(description="Taxonomy topic id.", examples=["ukraine-security-guarantees"])
    label: str = Field(description="Human-readable topic name.")
    score: float = Field(ge=0.0, le=1.0, description="Confidence of the tag, 0..1.")
    matched: list[str] = Field(
        default_factory=list, description="The terms in the article that satisfied the rule."
    )
    evidence: list[Evidence] = Field(
        default_factory=list, description="Where those terms stood (at most 12)."
    )


class Sentiment(Contract):
    """Tone of the article's headline and summary."""

    score: float = Field(ge=-1.0, le=1.0, description="Model score, -1..1 (VADER: compound).")
    label: Literal["negative", "neutral", "positive"]
    method: str = Field(description="How the score was computed.", examples=["vader:title+summary"])
    reliable: bool = Field(
        default=True,
        description="False when the model does not cover the article's language (score 0).",
    )


class Keyword(Contract):
    text: str
    score: float = Field(ge=0.0, description="RAKE score; higher is more central.")


class EntityMention(Contract):
    """A person, organisation, country or region the article names."""

    id: str = Field(
        description="ISO 3166-1 alpha-2 for countries, '<kind>:<slug>' otherwise.",
        examples=["UA", "person:keir-starmer", "org:nato"],
    )
    name: str
    kind: Literal["country", "person", "organization", "region", "place"]
    mentions: int = Field(ge=1)
    fields: dict[str, int] = Field(description="Mentions per field: title, summary, body.")
    sentiment: float | None = Field(
        default=None,
        ge=-1.0,
        le=1.0,
        description="Mean score of the sentences naming it; null when not reliable.",
    )


class EnrichedArticle(Contract):
    """An article plus tags and sentiment. Keyed by ``article.article_id``."""

    schema_version: Literal[1] = Field(default=1, description="Version of this contract.")
    article: Article
    topics: list[TopicTag] = Field(default_factory=list)
    entities: list[EntityMention] = Field(default_factory=list)
    keywords: list[Keyword] = Field(default_factory=list, description="Top keyphrases, best first.")
    story_id: str | None = Field(
        default=None,
        description="Article id of the first article of the same story (null: not clustered).",
    )
    sentiment: Sentiment
    taxonomy_version: str = Field(description="Version of the taxonomy file that tagged it.")
