"""The notify worker: an enriched article in, one alert per matching subscription out."""

import sys

import structlog

from schemas import topics
from schemas.alert import Alert
from schemas.enriched import EnrichedArticle
from services.notify.settings import NotifySettings
from services.notify.subscriptions import (
    Delivery,
    Subscription,
    SubscriptionIndex,
    load_subscriptions,
)
from services.runtime.worker import StepContext, Worker

log = structlog.get_logger("newswire.notify")


def deliver(alert: Alert, subscription: Subscription) -> None:
    """Local delivery targets. Alerts are also on news.alerts, whatever the target."""
    if Delivery.log in subscription.delivery:
        log.info(
            "alert_delivered",
            subscription_id=alert.subscription_id,
            alert_id=alert.alert_id,
            title=alert.title,
            topics=alert.matched_topics,
        )
    if Delivery.stdout in subscription.delivery:
        sys.stdout.write(alert.model_dump_json() + "\n")
        sys.stdout.flush()


def build_worker(settings: NotifySettings) -> Worker[EnrichedArticle, Alert]:
    subscriptions = load_subscriptions(settings.subscriptions_path)
    index = SubscriptionIndex(subscriptions)
    log.info(
        "subscriptions_loaded", count=len(subscriptions), path=str(settings.subscriptions_path)
    )

    async def step(enriched: EnrichedArticle, _: StepContext) -> list[Alert]:
        alerts = index.match(enriched)
        for alert in alerts:
            deliver(alert, index.by_id[alert.subscription_id])
        return alerts

    return Worker("notify", source=topics.ENRICHED, sink=topics.ALERTS, step=step)
