import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import NoDecode

from services.notify.ssrf import AllowList
from services.runtime.settings import HttpSettings, RuntimeSettings

# The seed `newswire subscriptions load` writes into news.subscriptions (the demo's one).
DEFAULT_SUBSCRIPTIONS = Path(__file__).parent / "data" / "subscriptions.yaml"


class WebhookSettings(BaseModel):
    """Webhook delivery knobs, ``NEWSWIRE_NOTIFY__<NAME>`` (e.g.
    ``NEWSWIRE_NOTIFY__WEBHOOK_ALLOW_HOSTS=127.0.0.1``)."""

    model_config = ConfigDict(frozen=True)

    # SSRF guard exceptions: host names or CIDRs, comma-separated. Empty in production.
    webhook_allow_hosts: Annotated[tuple[str, ...], NoDecode] = ()
    # The spec recommends 15-30 s for receivers to answer; connecting gets less.
    webhook_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    webhook_timeout_seconds: float = Field(default=15.0, gt=0)
    # Only the status matters; a receiver cannot make us buffer a large answer.
    webhook_max_response_bytes: int = Field(default=64 * 1024, ge=0)
    # What we send: an alert larger than this is dead-lettered (record_too_large); a digest
    # takes the alerts that fit (the spec recommends small payloads).
    webhook_max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    # Retry budget (services/notify/retry.py): attempts and time since the first attempt.
    # The spec suggests retrying over days; these ceilings (5 s doubling to 1 h) add up to
    # ~20 h over 30 attempts, ~10 h on average with full jitter; the day ends it anyway.
    retry_base_delay_seconds: float = Field(default=5.0, ge=0)
    retry_max_delay_seconds: float = Field(default=3600.0, ge=0)
    retry_max_attempts: int = Field(default=30, ge=1)
    retry_max_elapsed_seconds: float = Field(default=24 * 3600.0, gt=0)
    # Per-subscription token bucket (a target may override): alerts over it become digests.
    rate_per_minute: float = Field(default=60.0, gt=0)
    burst: int = Field(default=10, ge=1)
    digest_max_alerts: int = Field(default=50, ge=1, le=1000)
    # HTTP requests in flight at once across all subscriptions.
    max_concurrent_requests: int = Field(default=64, ge=1, le=10_000)
    # Alerts read but not yet delivered per partition; past this the partition is paused.
    max_pending_per_partition: int = Field(default=1000, ge=1)
    # Static webhook targets (YAML/JSON: subscription id -> url, secret, ...), for running
    # the delivery worker without the subscriptions topic; None: no webhook targets.
    webhook_targets_path: Path | None = None

    def allow_list(self) -> AllowList:
        """The SSRF allow-list, for ``check_webhook_url(url, settings.notify.allow_list())``."""
        return AllowList.parse(self.webhook_allow_hosts)

    @field_validator("webhook_allow_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return tuple(json.loads(text))
            return tuple(p.strip() for p in text.split(",") if p.strip())
        return value


class ApiSettings(BaseModel):
    """The subscription API (``NEWSWIRE_API__*``), served by every notify process."""

    model_config = ConfigDict(frozen=True)

    enabled: bool = Field(default=True, description="Serve the API from this notify process.")
    host: str = "127.0.0.1"
    port: int = Field(default=9113, ge=0, le=65535, description="0 picks a free port")
    keys: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Key id → 'sha256:<hex>' of the key (newswire apikey new), e.g. "
            'NEWSWIRE_API__KEYS=\'{"alice": "sha256:..."}\'. Never the key itself.'
        ),
    )
    keys_file: Path | None = Field(
        default=None, description="A file of '<key id> sha256:<hex>' lines, added to ``keys``."
    )
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=4 * 1024 * 1024)
    page_size: int = Field(default=50, ge=1, description="List page size without ?limit=.")
    max_page_size: int = Field(default=200, ge=1, le=1000)
    max_subscriptions_per_key: int = Field(default=1000, ge=1)
    # The dry run checks the last N enriched articles this worker matched (in memory).
    recent_articles: int = Field(default=200, ge=0, le=10_000)
    write_timeout_seconds: float = Field(default=10.0, gt=0)
    stream_heartbeat_seconds: float = Field(default=15.0, gt=0)
    max_streams: int = Field(default=100, ge=1, description="Open SSE streams, all keys.")
    max_streams_per_key: int = Field(default=5, ge=1)
    # GET /v1/alerts reads at most this many of the newest records of each news.alerts
    # partition (all keys' alerts share them): a bound on the call's time and memory.
    alerts_scan_per_partition: int = Field(default=20_000, ge=1, le=1_000_000)
    # GET /v1/alerts calls reading news.alerts at once in this process, all keys together:
    # each opens a consumer and holds up to a fetch's worth of records; more answer 429.
    max_alert_reads: int = Field(default=4, ge=1, le=100)
    # POST .../webhook/test makes this server send a request at once: a token bucket per API
    # key (in each notify process) keeps a key from turning it into a request cannon.
    webhook_tests_per_minute: float = Field(default=6.0, gt=0)
    webhook_test_burst: int = Field(default=3, ge=1)


class NotifySettings(RuntimeSettings):
    http: HttpSettings = HttpSettings(port=9103)
    api: ApiSettings = ApiSettings()
    # The webhook knobs; the API checks webhook URLs with its SSRF allow-list at subscribe time.
    notify: WebhookSettings = WebhookSettings()


class DeliverySettings(RuntimeSettings):
    """The webhook delivery worker (``newswire deliver``): news.alerts → subscribers' URLs."""

    http: HttpSettings = HttpSettings(port=9104)
    notify: WebhookSettings = WebhookSettings()
