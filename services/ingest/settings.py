from typing import Literal

from pydantic import Field

from services.ingest.limits import IngestLimits
from services.runtime.settings import HttpSettings, RuntimeSettings


class IngestSettings(RuntimeSettings):
    http: HttpSettings = HttpSettings(port=9101)
    source_timezone: str = Field(
        default="UTC",
        description="IANA zone naive timestamps in payloads are read in (e.g. Europe/London).",
    )
    source_timezones: dict[str, str] = Field(
        default_factory=dict,
        description='Per-source zones, as JSON: {"kyiv-post": "Europe/Kyiv"}.',
    )
    dedup_window_hours: float = Field(
        default=7 * 24, gt=0, description="A re-sent article within this window is a duplicate."
    )
    language_accuracy: Literal["low", "high"] = Field(
        default="low", description="lingua mode: low holds 32 MiB, high 343 MiB (see language.py)."
    )
    limits: IngestLimits = IngestLimits()

    @property
    def dedup_window_ms(self) -> int:
        return int(self.dedup_window_hours * 3600 * 1000)
