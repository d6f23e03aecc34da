"""Size and shape limits on what scrapers send; each is a setting (NEWSWIRE_LIMITS__...)."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# lexbor's tree builder costs (start tags) x (nesting depth): 100,000 nested <div> took 23 s
# of CPU. 512 levels keep a 2 MiB field of tags under ~0.25 s; libxml2 (trafilatura) stops
# at 256, so no page deeper than that is read well anyway. Every text field is held to it.
MAX_MARKUP_DEPTH = 512
# An Article record must fit the broker's default message.max.bytes (1,048,588 bytes) after
# enrich wraps it with topics, entities and sentiment: a payload that fits news.raw can still
# grow past it (NFC turns U+1D160, 4 bytes, into three code points, 12 bytes).
MAX_ARTICLE_BYTES = 900_000


class IngestLimits(BaseModel):
    model_config = ConfigDict(frozen=True)

    max_payload_bytes: int = Field(default=2 * 1024 * 1024, ge=1024, description="Decoded payload.")
    max_html_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_html_depth: int = Field(default=MAX_MARKUP_DEPTH, ge=16, le=4096)
    max_article_bytes: int = Field(default=MAX_ARTICLE_BYTES, ge=10_000)
    max_title_chars: int = Field(default=500, ge=10)
    # Longer bodies are cut here (flag body_truncated), not rejected: the article is real.
    max_body_chars: int = Field(default=200_000, ge=1000)
    max_json_depth: int = Field(default=32, ge=2, le=200)
    max_json_int_digits: int = Field(default=20, ge=1, le=4300)
    max_feed_items: int = Field(default=500, ge=1)
    # "replace": undecodable bytes become U+FFFD and the article is flagged; "reject": DLQ.
    invalid_utf8: Literal["replace", "reject"] = "replace"
