"""``news.alerts``: one article matched one subscription."""

from typing import Literal

from pydantic import Field

from schemas._base import Contract, UtcDatetime
from schemas.enriched import Sentiment


class Alert(Contract):
    """A subscription matched an article. Keyed by ``subscription_id`` on ``news.alerts``."""

    schema_version: Literal[1] = Field(default=1, description="Version of this contract.")
    alert_id: str = Field(
        pattern=r"^[0-9a-f]{32}$",
        description=(
            "blake2b-128 of subscription id and article id: a redelivered alert keeps its id, "
            "so receivers can drop repeats."
        ),
    )
    subscription_id: str
    subscription_name: str
    article_id: str
    story_id: str | None = Field(
        default=None, description="The article's story (enrich's story_id); null: not clustered."
    )
    title: str
    url: str | None = None
    source: str
    language: str | None = Field(
        default=None,
        description="ISO 639-1 code of the article's main text, as ingest detected it.",
        examples=["de"],
    )
    published_at: UtcDatetime
    matched_topics: list[str] = Field(description="Topic ids that made the subscription match.")
    matched_terms: list[str] = Field(description="Article terms behind those topics.")
    sentiment: Sentiment
    created_at: UtcDatetime = Field(description="When notify produced the alert (UTC).")


class AlertDigest(Contract):
    """A webhook body carrying several alerts of one subscription: sent when alerts arrived
    faster than the subscription's rate limit (not a topic payload; webhook bodies only)."""

    schema_version: Literal[1] = Field(default=1, description="Version of this contract.")
    type: Literal["alert.digest"] = "alert.digest"
    digest_id: str = Field(
        pattern=r"^dg_[0-9a-f]{32}$",
        description="blake2b-128 of the alerts' ids in order; also the webhook-id.",
    )
    subscription_id: str
    alerts: list[Alert] = Field(min_length=2, description="In the order notify produced them.")
