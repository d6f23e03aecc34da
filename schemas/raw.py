"""``news.raw``: what scrapers send."""

import base64
from typing import Literal

from pydantic import Field, model_validator

from schemas._base import Contract, UtcDatetime

# Events larger than this are rejected before parsing (see ingest's max_event_bytes too).
MAX_PAYLOAD_CHARS = 2 * 1024 * 1024


class RawArticleEvent(Contract):
    """One scraped document, as fetched, wrapped with where and when it came from.

    The payload is kept exactly as the scraper saw it; ingest decides how to parse it from
    ``content_type`` (a hint) and the content itself.
    """

    schema_version: Literal[1] = Field(default=1, description="Version of this contract.")
    source: str = Field(
        min_length=1,
        max_length=200,
        description="Name of the publication or scraper feed the payload came from.",
        examples=["express-insights"],
    )
    content_type: str = Field(
        default="text/plain",
        max_length=100,
        description="MIME type of the payload as the scraper saw it; a hint for the parser.",
        examples=["text/plain", "application/json", "text/html", "application/rss+xml"],
    )
    url: str | None = Field(
        default=None, max_length=4096, description="Address the payload was fetched from."
    )
    fetched_at: UtcDatetime = Field(description="When the scraper fetched the payload (UTC).")
    payload_encoding: Literal["text", "base64"] = Field(
        default="text",
        description="'text': payload is the document as a string; 'base64': its raw bytes.",
    )
    payload: str = Field(
        max_length=MAX_PAYLOAD_CHARS, description="The document, encoded as payload_encoding says."
    )

    @model_validator(mode="after")
    def _payload_decodes(self) -> "RawArticleEvent":
        if self.payload_encoding == "base64":
            self.payload_bytes()
        return self

    def payload_bytes(self) -> bytes:
        """The document's bytes, whatever the wire encoding."""
        if self.payload_encoding == "base64":
            return base64.b64decode(self.payload, validate=True)
        return self.payload.encode("utf-8")
