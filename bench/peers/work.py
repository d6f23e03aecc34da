"""The pure work every peer does per record (see the package docstring)."""

import argparse
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict

from schemas.article import Article
from schemas.enriched import TopicTag
from services.enrich.settings import DEFAULT_TAXONOMY
from services.enrich.taxonomy import Taxonomy, load_taxonomy, tag
from services.query.article import article_document

SINK = "bench.tagged"


def peer_arguments(parser: argparse.ArgumentParser | None = None) -> argparse.Namespace:
    """The command line every peer takes from bench/run.py: broker, topic prefix, group."""
    p = parser or argparse.ArgumentParser()
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--prefix", required=True)
    p.add_argument("--group", default=None)
    return p.parse_args()


class Tagged(BaseModel):
    """What each peer produces: the article id and newswire's topic tags, evidence included."""

    model_config = ConfigDict(frozen=True)

    article_id: str
    topics: list[TopicTag]


@lru_cache(maxsize=1)
def taxonomy() -> Taxonomy:
    return load_taxonomy(DEFAULT_TAXONOMY)


def tag_article(article: Article) -> Tagged:
    """Topic tags of one parsed article, by the rules and evaluator newswire's enrich uses."""
    return Tagged(article_id=article.article_id, topics=tag(article_document(article), taxonomy()))


def tag_value(value: dict[str, Any]) -> dict[str, Any]:
    """For frameworks that hand over decoded JSON (Quix Streams): the same work, a dict back."""
    return tag_article(Article.model_validate(value)).model_dump(mode="json")
