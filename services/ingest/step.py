"""The ingest worker: a raw event in; its new articles out; duplicates dropped; bad input to
the dead-letter topic (a feed with some bad items: good items out and the event dead-lettered
too, so a replay after a fix re-drives only what failed, the rest being duplicates by then)."""

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import structlog
from pydantic import ValidationError

from schemas import topics
from schemas.article import Article
from schemas.raw import RawArticleEvent
from services.ingest.dedup import Deduplicator, Verdict, dedup_table
from services.ingest.normalize import Normalized, NormalizePolicy, normalize
from services.ingest.parse import ParseError
from services.ingest.settings import IngestSettings
from services.runtime.clock import wall_clock_ms
from services.runtime.errors import InvalidMessage
from services.runtime.parallel import Prepare
from services.runtime.worker import Encoded, StepContext, Worker

log = structlog.get_logger("newswire.ingest")


# What each step-pool child normalises once at start: parsers and the language models load
# before the first batch (the same sample the worker's first record would pay for).
WARM_EVENT = (
    RawArticleEvent(
        source="warm-up",
        fetched_at=datetime(2025, 1, 1, tzinfo=UTC),
        content_type="application/json",
        payload='{"title": "Warm-up", "url": "https://warm-up.example/a", '
        '"body": "Kyiv asked its allies for security guarantees on Monday."}',
    )
    .model_dump_json()
    .encode()
)


def policy_from(settings: IngestSettings) -> NormalizePolicy:
    return NormalizePolicy(
        limits=settings.limits,
        default_zone=ZoneInfo(settings.source_timezone),
        zones={source: ZoneInfo(zone) for source, zone in settings.source_timezones.items()},
        language_accuracy=settings.language_accuracy,
    )


@dataclass(frozen=True)
class EncodedArticle:
    """An Article as the prepare half ships it: its JSON, and what dedup and the log read.
    Bytes cross the process boundary for a fraction of a pickled model's cost."""

    article_id: str
    url: str | None
    content_hash: str
    source: str
    json: bytes

    @staticmethod
    def of(article: Article) -> "EncodedArticle":
        return EncodedArticle(
            article.article_id,
            article.url,
            article.content_hash,
            article.source,
            article.model_dump_json().encode(),
        )


@dataclass(frozen=True)
class NormalizedEvent:
    """A raw event's articles, encoded, and the errors of its items that were not."""

    articles: list[EncodedArticle]
    errors: list[ParseError]

    @staticmethod
    def of(result: Normalized) -> "NormalizedEvent":
        return NormalizedEvent([EncodedArticle.of(a) for a in result.articles], result.errors)


def normalize_value(
    value: bytes | None, policy: NormalizePolicy
) -> NormalizedEvent | InvalidMessage:
    """The worker's prepare half (pure; in a step pool's children when ``step_processes`` is
    set): a raw record's value → its articles and item errors, or why it is unusable.

    An envelope that is not a RawArticleEvent is left to the runtime, which decodes it too
    and dead-letters it as ``invalid_envelope``; that value never reaches the step."""
    try:
        raw = RawArticleEvent.model_validate_json(value or b"")
    except ValidationError as exc:
        return InvalidMessage("invalid_envelope", str(exc)[:300])
    try:
        return NormalizedEvent.of(normalize(raw, policy))
    except InvalidMessage as exc:
        return exc


class IngestStep:
    """Normalise (the prepare half, see :func:`normalize_value`), then keep only what the
    dedup table has not seen within the window."""

    def __init__(self, policy: NormalizePolicy, dedup: Deduplicator) -> None:
        self.policy = policy
        self.dedup = dedup

    async def __call__(self, raw: RawArticleEvent, ctx: StepContext) -> list[Encoded]:
        prepared = ctx.prepared
        if isinstance(prepared, InvalidMessage):
            raise prepared
        # Without the prepare half (a Worker declared without it), normalise here.
        result = (
            prepared
            if isinstance(prepared, NormalizedEvent)
            else NormalizedEvent.of(normalize(raw, self.policy))
        )
        now = wall_clock_ms()
        claimed: set[str] = set()
        fresh: list[Encoded] = []
        for article in result.articles:
            structlog.contextvars.bind_contextvars(article_id=article.article_id)
            verdict = self.dedup.verdict(article, ctx.position, now, claimed)
            if verdict in (Verdict.NEW, Verdict.REPLAY):
                for record in self.dedup.remember(article, ctx.position, now, claimed):
                    ctx.emit(record)
                fresh.append(Encoded(article.article_id.encode(), article.json))
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
    policy = policy_from(settings)
    step = IngestStep(policy, Deduplicator(table, window_ms))
    prepare = Prepare(normalize_value, (policy,), warm=WARM_EVENT)
    return Worker(
        "ingest",
        source=topics.RAW,
        sink=topics.ARTICLES,
        step=step,
        tables=(table,),
        prepare=prepare,
    )
