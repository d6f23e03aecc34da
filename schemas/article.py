"""``news.articles``: one normalised article."""

from typing import Literal

from pydantic import Field

from schemas._base import Contract, UtcDatetime


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
    source: str = Field(min_length=1, description="Publication or feed name (from the raw event).")
    title: str = Field(min_length=1, max_length=1000, description="Headline, plain text.")
    summary: list[str] = Field(
        default_factory=list, description="Summary bullets, in the order the source gave them."
    )
    body: str = Field(default="", description="Main text, plain.")
    context: str = Field(default="", description="Background section, when the source has one.")
    published_at: UtcDatetime = Field(description="Publication time (UTC).")
    fetched_at: UtcDatetime = Field(description="When the scraper fetched it (UTC).")
    language: str | None = Field(
        default=None,
        description="ISO 639-1 code of the main text; null until language detection runs.",
        examples=["en"],
    )
    content_type: str = Field(description="Content type of the raw event it was parsed from.")
