"""The ingest worker: a raw event in; its new articles out; duplicates dropped; bad input to
the dead-letter topic (a feed with some bad items: good items out and the event dead-lettered
too, so a replay after a fix re-drives only what failed, the rest being duplicates by then)."""

from zoneinfo import ZoneInfo

import structlog

from schemas import topics
from schemas.article import Article
from schemas.raw import RawArticleEvent
from services.ingest.dedup import Deduplicator, Verdict, dedup_table
from services.ingest.normalize import NormalizePolicy, normalize
from services.ingest.parse import ParseError
from services.ingest.settings import IngestSettings
from services.runtime.clock import wall_clock_ms
from services.runtime.worker import StepContext, Worker

log = structlog.get_logger("newswire.ingest")


def policy_from(settings: IngestSettings) -> NormalizePolicy:
    return NormalizePolicy(
        limits=settings.limits,
        default_zone=ZoneInfo(settings.source_timezone),
        zones={source: ZoneInfo(zone) for source, zone in settings.source_timezones.items()},
        language_accuracy=settings.language_accuracy,
    )


class IngestStep:
    """Normalise, then keep only what the dedup table has not seen within the window."""

    def __init__(self, policy: NormalizePolicy, dedup: Deduplicator) -> None:
        self.policy = policy
        self.dedup = dedup

    async def __call__(self, raw: RawArticleEvent, ctx: StepContext) -> list[Article]:
        result = normalize(raw, self.policy)
        now = wall_clock_ms()
        claimed: set[str] = set()
        fresh: list[Article] = []
        for article in result.articles:
            structlog.contextvars.bind_contextvars(article_id=article.article_id)
            verdict = self.dedup.verdict(article, ctx.position, now, claimed)
            if verdict in (Verdict.NEW, Verdict.REPLAY):
                for record in self.dedup.remember(article, ctx.position, now, claimed):
                    ctx.emit(record)
                fresh.append(article)
                log.info("article_parsed", source=article.source, replay=verdict is Verdict.REPLAY)
            else:
                ctx.drop(verdict.value)
                log.info("article_deduplicated", reason=verdict.value)
        if result.errors:
            detail = "; ".join(f"{e.reason}: {e.detail}" for e in result.errors)
            ctx.dead_letter(ParseError("items_rejected", detail[:2000]))
        return fresh


def build_worker(settings: IngestSettings) -> Worker[RawArticleEvent, Article]:
    window_ms = settings.dedup_window_ms
    table = dedup_table(topics.INGEST_DEDUP, window_ms)
    step = IngestStep(policy_from(settings), Deduplicator(table, window_ms))
    return Worker("ingest", source=topics.RAW, sink=topics.ARTICLES, step=step, tables=(table,))
