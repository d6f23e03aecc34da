"""``news.articles``: one normalised article."""

from typing import Literal

from pydantic import Field

from schemas._base import Contract, UtcDatetime

Flag = Literal[
    "published_at_missing",
    "published_at_implausible",
    "body_truncated",
    "invalid_utf8_replaced",
    "url_invalid_ignored",
    "language_uncertain",
]


class Article(Contract):
    """A parsed, normalised news article. Keyed by ``article_id`` on ``news.articles``."""

    schema_version: Literal[1] = Field(default=1, description="Version of this contract.")
    article_id: str = Field(
        pattern=r"^[0-9a-f]{32}$",
        description=(
            "Stable id: blake2b-128 of the canonical URL when there is one, else of "
            "source, title and published time. The same article always gets the same id."
        ),
        examples=["3f2c0b8e9d7a4c1b8e6f5a4d3c2b1a09"],
    )
    url: str | None = Field(default=None, description="Canonical URL, when the source gave one.")
    domain: str | None = Field(default=None, description="Host of the URL, without 'www.'.")
    source: str = Field(min_length=1, description="Scraper feed name (from the raw event).")
    publisher: str | None = Field(default=None, description="Publication named by the page.")
    title: str = Field(min_length=1, max_length=1000, description="Headline, plain text.")
    summary: list[str] = Field(
        default_factory=list, description="Summary bullets, in the order the source gave them."
    )
    body: str = Field(default="", description="Main text, plain; paragraphs split by blank lines.")
    context: str = Field(default="", description="Background section, when the source has one.")
    authors: list[str] = Field(default_factory=list, description="Bylines, plain text.")
    published_at: UtcDatetime = Field(
        description="Publication time (UTC). The fetch time when the source gave none or an "
        "implausible one (see flags)."
    )
    published_at_reported: str | None = Field(
        default=None, description="The publication time the source claimed, when it was not used."
    )
    fetched_at: UtcDatetime = Field(description="When the scraper fetched it (UTC).")
    language: str | None = Field(
        default=None, description="ISO 639-1 code of the main text.", examples=["en"]
    )
    language_confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    word_count: int = Field(default=0, ge=0, description="Words in title, summary and body.")
    content_hash: str = Field(
        default="",
        description="blake2b-128 of title and text, case and whitespace ignored: equal for "
        "re-sent copies.",
    )
    content_type: str = Field(description="Content type of the raw event it was parsed from.")
    format: Literal["text", "json", "html", "feed"] = Field(
        default="text", description="Which parser read it."
    )
    flags: list[Flag] = Field(
        default_factory=list, description="What normalisation had to correct or could not trust."
    )
