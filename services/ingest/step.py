"""The ingest worker: one raw event in, one article out (or a dead letter)."""

from zoneinfo import ZoneInfo

import structlog

from schemas import topics
from schemas.article import Article
from schemas.raw import RawArticleEvent
from services.ingest.normalize import to_article
from services.ingest.settings import IngestSettings
from services.runtime.worker import Worker

log = structlog.get_logger("newswire.ingest")


def build_worker(settings: IngestSettings) -> Worker[RawArticleEvent, Article]:
    source_tz = ZoneInfo(settings.source_timezone)

    async def normalize(raw: RawArticleEvent) -> Article:
        article = to_article(raw, source_tz)
        structlog.contextvars.bind_contextvars(article_id=article.article_id)
        log.debug("article_parsed", source=article.source, title=article.title[:120])
        return article

    return Worker("ingest", source=topics.RAW, sink=topics.ARTICLES, step=normalize)
