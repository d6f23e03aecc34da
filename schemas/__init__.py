"""newswire's data contracts: one pydantic v2 model per Kafka topic.

These models are the source of truth. The JSON Schema files next to them
(``schemas/json/*.schema.json``) are generated from them by ``newswire schemas export``,
and a unit test fails when a committed file differs from what the models produce.
"""

from schemas.alert import Alert
from schemas.article import Article
from schemas.enriched import EnrichedArticle, Sentiment, TopicTag
from schemas.raw import RawArticleEvent

__all__ = ["Alert", "Article", "EnrichedArticle", "RawArticleEvent", "Sentiment", "TopicTag"]
