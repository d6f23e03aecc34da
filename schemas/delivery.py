"""The console's Delivery page: a subscription's recent webhook attempts.

The deliver worker records every webhook attempt (and the API every test event) in the
compacted changelog ``news.alerts.attempts`` (``services/notify/attempts.py``); the API shows
them with ``GET /v1/subscriptions/{id}/deliveries``. No secret and no request body is kept.
"""

from typing import Literal

from pydantic import BaseModel, Field

from schemas._base import UtcDatetime
from schemas.subscription import Status

AttemptVerdict = Literal["delivered", "retry", "gone", "exhausted", "test"]


class DeliveryAttempt(BaseModel):
    """One HTTP attempt to a subscription's webhook."""

    at: UtcDatetime = Field(description="When the attempt finished (UTC).")
    webhook_id: str = Field(
        description="The webhook-id header: the alert's id, a digest's dg_ id, or test_<hex>."
    )
    attempt: int = Field(ge=1, description="1 for the first try of this webhook-id, then 2, ...")
    status: int | None = Field(description="The HTTP status; null when no response came.")
    result: str = Field(
        description="2xx, 3xx, 4xx, 5xx; error (no answer: refused, reset, timeout); "
        "refused (the SSRF guard refused the destination).",
        examples=["2xx", "5xx", "error", "refused"],
    )
    error: str | None = Field(description="Why there was no response (short), else null.")
    verdict: AttemptVerdict = Field(
        description="delivered; retry (another attempt at next_attempt_at); gone (410: the "
        "subscription was disabled); exhausted (retry budget spent, dead-lettered); test."
    )
    next_attempt_at: UtcDatetime | None = Field(
        description="When the next attempt is due (verdict retry only)."
    )
    alerts: int = Field(ge=0, description="Alerts in the request (a digest has several; 0: test).")
    test: bool = Field(description="A test event sent with POST .../webhook/test.")


class DeliveryWebhook(BaseModel):
    url: str


class DeliveryHistory(BaseModel):
    """GET /v1/subscriptions/{id}/deliveries."""

    subscription_id: str
    status: Status
    status_reason: str | None
    webhook: DeliveryWebhook | None
    next_retry_at: UtcDatetime | None = Field(
        description="The next attempt's time when the newest attempt's verdict is retry."
    )
    attempts: list[DeliveryAttempt] = Field(description="The last attempts, newest first.")


DELIVERY_API_MODELS: tuple[type[BaseModel], ...] = (DeliveryAttempt, DeliveryHistory)
