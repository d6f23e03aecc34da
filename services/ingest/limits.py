"""Size and shape limits on what scrapers send; each is a setting (NEWSWIRE_LIMITS__...)."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class IngestLimits(BaseModel):
    model_config = ConfigDict(frozen=True)

    max_payload_bytes: int = Field(default=2 * 1024 * 1024, ge=1024, description="Decoded payload.")
    max_html_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_title_chars: int = Field(default=500, ge=10)
    # Longer bodies are cut here (flag body_truncated), not rejected: the article is real.
    max_body_chars: int = Field(default=200_000, ge=1000)
    max_json_depth: int = Field(default=32, ge=2, le=200)
    max_json_int_digits: int = Field(default=20, ge=1, le=4300)
    max_feed_items: int = Field(default=500, ge=1)
    # "replace": undecodable bytes become U+FFFD and the article is flagged; "reject": DLQ.
    invalid_utf8: Literal["replace", "reject"] = "replace"
