"""The notify worker: an enriched article in, one alert per matching subscription out.

Subscriptions come from ``news.subscriptions`` only: the :class:`SubscriptionStore` is
restored before the first article (``/readyz`` waits for it) and followed live, and every
change reaches the percolator index at once (active subscriptions are indexed, disabled and
deleted ones removed). The same process serves the subscription API (``api.py``).
"""

import structlog
from prometheus_client import Gauge, Histogram
from prometheus_client.registry import Collector

from schemas import topics
from schemas.alert import Alert
from schemas.enriched import EnrichedArticle
from schemas.subscription import Subscription
from services.notify.api import build_api
from services.notify.api_protocol import UrlChecker
from services.notify.attempt_log import AttemptLog
from services.notify.dryrun import RecentArticles
from services.notify.sender import WebhookSender
from services.notify.settings import NotifySettings
from services.notify.ssrf import check_webhook_url
from services.notify.store import Listener, SubscriptionStore
from services.notify.story_gate import StoryGate, story_alert_table
from services.notify.subscriptions import SubscriptionIndex
from services.runtime.clock import wall_clock_ms
from services.runtime.worker import Companion, StepContext, Worker

log = structlog.get_logger("newswire.notify")


def follow_into(index: SubscriptionIndex) -> Listener:
    """A store listener that keeps ``index`` equal to the active subscriptions."""

    def changed(key: str, _: Subscription | None, new: Subscription | None) -> None:
        if new is not None and new.status == "active":
            index.upsert(new)
        else:
            index.remove(key)

    return changed


def ssrf_url_check(settings: NotifySettings) -> UrlChecker:
    """The API's subscribe-time webhook check: the SSRF guard with the settings' allow-list
    (delivery checks again at connect time, pinned to the checked address)."""
    allow = settings.notify.allow_list()

    async def check(url: str) -> str | None:
        return await check_webhook_url(url, allow)

    return check


# From the scraper's fetch to the alert: seconds when all is well, hours after an outage.
_END_TO_END_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 3600.0)
_CANDIDATE_BUCKETS = (0, 1, 5, 10, 50, 100, 500, 1000, 5000, 10000, 50000)


class NotifyMetrics:
    """notify's own metrics; ``run_worker`` registers them in the worker's registry."""

    def __init__(self) -> None:
        self.end_to_end = Histogram(
            "newswire_end_to_end_latency_seconds",
            "From the article's fetched_at (set by the scraper) to its alert being produced.",
            ["service"],
            buckets=_END_TO_END_BUCKETS,
            registry=None,
        )
        self.candidates = Histogram(
            "newswire_percolator_candidates",
            "Subscriptions the percolator proposed for one article, before verification.",
            ["service"],
            buckets=_CANDIDATE_BUCKETS,
            registry=None,
        )
        self.subscriptions = Gauge(
            "newswire_subscriptions_active",
            "Active subscriptions in this worker's index.",
            ["service"],
            registry=None,
        )
        self.streams = Gauge(
            "newswire_stream_connections",
            "Open Server-Sent Events streams on this worker's API.",
            ["service"],
            registry=None,
        )

    def collectors(self) -> tuple[Collector, ...]:
        return (self.end_to_end, self.candidates, self.subscriptions, self.streams)


def build_worker(
    settings: NotifySettings, url_checker: UrlChecker | None = None
) -> Worker[EnrichedArticle, Alert]:
    store = SubscriptionStore(settings.kafka, settings.api.write_timeout_seconds)
    index = SubscriptionIndex()
    store.listen(follow_into(index))
    recent = RecentArticles(settings.api.recent_articles)

    story_alerts = story_alert_table(topics.NOTIFY_STORY_ALERTS, wall_clock_ms)
    gate = StoryGate(story_alerts)
    metrics = NotifyMetrics()
    metrics.subscriptions.labels("notify").set_function(lambda: len(index))

    async def step(enriched: EnrichedArticle, ctx: StepContext) -> list[Alert]:
        recent.add(enriched)
        alerts = []
        matched = index.match(enriched)
        metrics.candidates.labels("notify").observe(index.last_candidates)
        for alert in matched:
            sub = store.get(alert.subscription_id)
            if sub is not None and sub.mode == "story":
                admitted, record = gate.admit(
                    sub.id,
                    enriched.story_id,
                    enriched.article.article_id,
                    sub.story_window_s,
                    wall_clock_ms(),
                )
                if record is not None:
                    ctx.emit(record)
                if not admitted:
                    ctx.drop("story_already_alerted")
                    continue
            alerts.append(alert)
            waited = (alert.created_at - enriched.article.fetched_at).total_seconds()
            metrics.end_to_end.labels("notify").observe(max(0.0, waited))
            log.info(
                "alert_matched",
                subscription_id=alert.subscription_id,
                alert_id=alert.alert_id,
                title=alert.title,
                topics=alert.matched_topics,
            )
        return alerts

    companions: tuple[Companion, ...] = ()
    tables: tuple[object, ...] = (store, story_alerts)
    if settings.api.enabled:
        # The webhook attempts the deliver worker records, for the console's Delivery page.
        attempts = AttemptLog(settings.kafka, settings.api.write_timeout_seconds)
        tables = (*tables, attempts)
        api = build_api(
            settings.api,
            store,
            recent,
            bootstrap=settings.kafka.bootstrap,
            alerts_topic=settings.topic(topics.ALERTS.name),
            url_checker=url_checker or ssrf_url_check(settings),
            attempts=attempts,
            sender=WebhookSender(settings.notify),
        )
        companions = (api,)
        metrics.streams.labels("notify").set_function(lambda: api.open_streams)
    return Worker(
        "notify",
        source=topics.ENRICHED,
        sink=topics.ALERTS,
        step=step,
        tables=tables,
        companions=companions,
        collectors=metrics.collectors(),
    )
