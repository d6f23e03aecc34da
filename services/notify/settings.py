from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from services.runtime.settings import HttpSettings, RuntimeSettings

# The seed `newswire subscriptions load` writes into news.subscriptions (the demo's one).
DEFAULT_SUBSCRIPTIONS = Path(__file__).parent / "data" / "subscriptions.yaml"


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


class NotifySettings(RuntimeSettings):
    http: HttpSettings = HttpSettings(port=9103)
    api: ApiSettings = ApiSettings()
