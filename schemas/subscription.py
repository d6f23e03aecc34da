"""``news.subscriptions``: what a subscriber wants, and the subscription API's bodies.

The compacted topic is the only store of subscriptions: the key is the subscription id, the
value a :class:`Subscription`, a tombstone (null value) a deleted one. Every notify worker
rebuilds its index from the topic and follows it (``services/notify/store.py``).

The API models (``SubscriptionCreate``, ``SubscriptionPatch``, ``SubscriptionView``,
``SubscriptionCreated``, ``SubscriptionPage``, ``DryRunResult``, ``Problem``) are what
``/v1/subscriptions`` reads and writes; ``schemas/openapi.yaml`` is generated from them.
A webhook secret is returned once, by the create call; every other response omits it.
"""

import base64
import binascii
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas._base import Contract, UtcDatetime
from schemas.alert import Alert
from services.query.parser import MAX_QUERY_CHARS, QuerySyntaxError, parse

MAX_NAME_CHARS = 200
MAX_TOPICS = 50
MAX_URL_CHARS = 2048
# Standard Webhooks: "whsec_" + base64 of 24 to 64 random bytes.
SECRET_PREFIX = "whsec_"
MIN_SECRET_BYTES = 24
MAX_SECRET_BYTES = 64
# One story alert per story per window; a day by default, a week at most (a story stays
# open for new reports for three days in enrich).
DEFAULT_STORY_WINDOW_S = 24 * 3600
MAX_STORY_WINDOW_S = 7 * 24 * 3600

SUBSCRIPTION_ID = r"^[A-Za-z0-9._:-]{1,200}$"
EVENT_ID = r"^[0-9]{1,6}:[0-9]{1,19}$"  # an SSE event id: <partition>:<offset>
# The all-subscriptions stream's event id: the next offset to read on each partition of
# news.alerts, comma-separated in partition order (a resume point, not one record).
POSITIONS_ID = r"^[0-9]{1,19}(,[0-9]{1,19}){0,1023}$"
KEY_ID = r"^[A-Za-z0-9_-]{1,64}$"

Mode = Literal["every", "story"]
# active: matched; paused: by its owner, not matched until resumed; disabled: by the system
# (its webhook answered 410 Gone) or by the owner, with ``status_reason`` saying which.
Status = Literal["active", "paused", "disabled"]


def check_query(query: str | None) -> str | None:
    """Parses ``query``; a ValueError names the problem and its character position."""
    if query is None:
        return None
    try:
        parse(query)
    except QuerySyntaxError as exc:
        raise ValueError(f"query: {exc.message} at character {exc.position}") from exc
    return query


def check_secret(secret: str | None) -> str | None:
    if secret is None:
        return None
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"a webhook secret starts with {SECRET_PREFIX!r}")
    try:
        raw = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("a webhook secret is 'whsec_' followed by base64") from exc
    if not MIN_SECRET_BYTES <= len(raw) <= MAX_SECRET_BYTES:
        raise ValueError(
            f"a webhook secret holds {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes, not {len(raw)}"
        )
    return secret


class WebhookTarget(Contract):
    """Where alerts are POSTed, signed per Standard Webhooks with ``secret``."""

    url: str = Field(max_length=MAX_URL_CHARS, examples=["https://hooks.example.com/newswire"])
    secret: str = Field(
        description="whsec_ + base64 of 24-64 bytes; the HMAC-SHA256 signing key.",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )

    _secret = field_validator("secret")(check_secret)


class Delivery(Contract):
    """Delivery targets. Every alert is on ``news.alerts`` whatever is chosen here."""

    webhook: WebhookTarget | None = None
    stream: bool = Field(
        default=False, description="Alerts may be read live from GET /v1/stream (SSE)."
    )


class Subscription(Contract):
    """A subscription as stored on ``news.subscriptions`` (key: ``id``)."""

    schema_version: Literal[1] = Field(default=1, description="Version of this contract.")
    id: str = Field(pattern=SUBSCRIPTION_ID, examples=["sub_4f1c2a9b0e7d4c51a2b3c4d5e6f70812"])
    owner: str = Field(pattern=KEY_ID, description="Id of the API key that owns it.")
    name: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    query: str | None = Field(
        default=None,
        max_length=MAX_QUERY_CHARS,
        description="A query in the shared language; topics and query both hold when both given.",
        examples=['"security guarantee*" NEAR/10 ukrain* AND lang:en'],
    )
    topics: list[str] = Field(
        default_factory=list, max_length=MAX_TOPICS, description="Any of these taxonomy tags."
    )
    min_score: float = Field(default=0.0, ge=0.0, le=1.0)
    mode: Mode = Field(
        default="every", description="every: each matching article; story: one alert per story."
    )
    story_window_s: int = Field(default=DEFAULT_STORY_WINDOW_S, ge=60, le=MAX_STORY_WINDOW_S)
    delivery: Delivery = Field(default_factory=Delivery)
    status: Status = "active"
    status_reason: str | None = Field(
        default=None, max_length=500, description="Why it is disabled (e.g. 'webhook gone: 410')."
    )
    created_at: UtcDatetime
    updated_at: UtcDatetime
    version: int = Field(ge=1, description="1 at creation, +1 on every change.")

    _query = field_validator("query")(check_query)

    @model_validator(mode="after")
    def _wants_something(self) -> "Subscription":
        if not self.topics and not self.query:
            raise ValueError("a subscription needs topics, a query, or both")
        return self


# --- the API's request and response bodies --------------------------------------------------


class ApiModel(BaseModel):
    """Request bodies: unknown fields are errors, so a typo is not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class WebhookRequest(ApiModel):
    url: str = Field(max_length=MAX_URL_CHARS, examples=["https://hooks.example.com/newswire"])
    secret: str | None = Field(
        default=None, description="Your own whsec_ secret; the server generates one if omitted."
    )

    _secret = field_validator("secret")(check_secret)


class SubscriptionCreate(ApiModel):
    """POST /v1/subscriptions."""

    name: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    query: str | None = Field(default=None, max_length=MAX_QUERY_CHARS)
    topics: list[str] = Field(default_factory=list, max_length=MAX_TOPICS)
    min_score: float = Field(default=0.0, ge=0.0, le=1.0)
    mode: Mode = "every"
    story_window_s: int = Field(default=DEFAULT_STORY_WINDOW_S, ge=60, le=MAX_STORY_WINDOW_S)
    webhook: WebhookRequest | None = None
    stream: bool = False

    @model_validator(mode="after")
    def _wants_something(self) -> "SubscriptionCreate":
        if not self.topics and not self.query:
            raise ValueError("a subscription needs topics, a query, or both")
        return self


class SubscriptionPatch(ApiModel):
    """PATCH /v1/subscriptions/{id}: the fields given are replaced; ``query: null`` removes
    the query and ``webhook: null`` the webhook (other nulls change nothing). A webhook given
    without a secret keeps the current one. Send ``If-Match: "<version>"`` to update only the
    version you read."""

    name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME_CHARS)
    query: str | None = Field(default=None, max_length=MAX_QUERY_CHARS)
    topics: list[str] | None = Field(default=None, max_length=MAX_TOPICS)
    min_score: float | None = Field(default=None, ge=0.0, le=1.0)
    mode: Mode | None = None
    story_window_s: int | None = Field(default=None, ge=60, le=MAX_STORY_WINDOW_S)
    webhook: WebhookRequest | None = None
    stream: bool | None = None
    status: Status | None = None


class ListParams(ApiModel):
    """GET /v1/subscriptions query parameters (the upper bound of ``limit`` is a setting)."""

    limit: int | None = Field(default=None, ge=1)
    cursor: str | None = Field(default=None, max_length=400)


class StreamParams(ApiModel):
    """GET /v1/stream query parameters and the resume header."""

    subscription: str = Field(pattern=SUBSCRIPTION_ID)
    last_event_id: str | None = Field(
        default=None, pattern=EVENT_ID, description="<partition>:<offset>"
    )


class WebhookView(BaseModel):
    url: str
    secret_set: Literal[True] = Field(
        default=True, description="The secret is only shown by the create call."
    )


class SubscriptionView(BaseModel):
    """A subscription as the API shows it (the webhook secret left out)."""

    id: str
    name: str
    query: str | None
    topics: list[str]
    min_score: float
    mode: Mode
    story_window_s: int
    webhook: WebhookView | None
    stream: bool
    status: Status
    status_reason: str | None
    created_at: UtcDatetime
    updated_at: UtcDatetime
    version: int

    @classmethod
    def of(cls, sub: Subscription) -> "SubscriptionView":
        hook = sub.delivery.webhook
        return cls(
            id=sub.id,
            name=sub.name,
            query=sub.query,
            topics=sub.topics,
            min_score=sub.min_score,
            mode=sub.mode,
            story_window_s=sub.story_window_s,
            webhook=WebhookView(url=hook.url) if hook else None,
            stream=sub.delivery.stream,
            status=sub.status,
            status_reason=sub.status_reason,
            created_at=sub.created_at,
            updated_at=sub.updated_at,
            version=sub.version,
        )


class SubscriptionCreated(SubscriptionView):
    """The create call's answer: the only one that carries the webhook secret."""

    webhook_secret: str | None = Field(
        description="whsec_ signing secret; store it now, it is not shown again."
    )


class SubscriptionPage(BaseModel):
    items: list[SubscriptionView]
    next_cursor: str | None = Field(
        description="Pass as ?cursor= for the next page; null on the last page."
    )


class DryRunMatch(BaseModel):
    article_id: str
    title: str
    url: str | None
    published_at: UtcDatetime
    score: float = Field(description="The query's score (1.0 for a topics-only subscription).")
    matched_topics: list[str]
    matched_terms: list[str]
    explanation: list[str] = Field(description="The rule as a tree, each clause ✓ or ✗.")
    source: str = Field(default="", description="The scraper feed it came from.")
    snippet: str = Field(
        default="", description="The start of the summary (or body), for highlighting terms."
    )


class DryRunResult(BaseModel):
    """POST /v1/subscriptions/{id}/test: the subscription against recent articles."""

    subscription_id: str
    articles_checked: int
    matches: list[DryRunMatch]


class PreviewRequest(ApiModel):
    """POST /v1/preview: a query not saved yet, dry-run against the recent articles (the
    console's live preview). A bad query is a 400 whose ``position`` names the character."""

    query: str | None = Field(default=None, max_length=MAX_QUERY_CHARS)
    topics: list[str] = Field(default_factory=list, max_length=MAX_TOPICS)
    min_score: float = Field(default=0.0, ge=0.0, le=1.0)
    limit: int = Field(default=20, ge=1, le=200, description="At most this many matches.")

    @model_validator(mode="after")
    def _wants_something(self) -> "PreviewRequest":
        if not self.topics and not (self.query or "").strip():
            raise ValueError("give a query, topics, or both")
        return self


class AlertsParams(ApiModel):
    """GET /v1/alerts query parameters."""

    limit: int = Field(default=200, ge=1, le=5000)
    subscription: str | None = Field(default=None, pattern=SUBSCRIPTION_ID)


class AlertStreamParams(ApiModel):
    """GET /v1/alerts/stream query parameters and the resume header."""

    subscription: str | None = Field(default=None, pattern=SUBSCRIPTION_ID)
    last_event_id: str | None = Field(
        default=None,
        pattern=POSITIONS_ID,
        description="The id of the last event received, or the resume_id of GET /v1/alerts.",
    )


class AlertItem(BaseModel):
    event_id: str = Field(description="<partition>:<offset> of the alert on news.alerts.")
    alert: Alert


class AlertsPage(BaseModel):
    """GET /v1/alerts: this key's most recent alerts, newest first."""

    items: list[AlertItem]
    resume_id: str = Field(
        description=(
            "Send as Last-Event-ID to GET /v1/alerts/stream to receive exactly the alerts "
            "after these: none missed, none twice."
        )
    )
    scanned: int = Field(description="Records of news.alerts read to answer.")


class Problem(BaseModel):
    """RFC 9457 problem details (``application/problem+json``)."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    position: int | None = Field(
        default=None, description="For a bad query: the character where the problem is."
    )
    errors: list[dict[str, object]] | None = Field(
        default=None, description="For a body that fails validation: one entry per field."
    )


API_MODELS: tuple[type[BaseModel], ...] = (
    SubscriptionCreate,
    SubscriptionPatch,
    SubscriptionView,
    SubscriptionCreated,
    SubscriptionPage,
    DryRunResult,
    PreviewRequest,
    AlertsPage,
    Problem,
)
