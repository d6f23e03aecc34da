"""What every parser returns: a document before normalisation."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal


@dataclass(frozen=True)
class ParsedDocument:
    """One article as a parser found it. Text may still hold markup or odd characters;
    ``published`` may be naive (a wall-clock time in the source's zone) or missing."""

    title: str
    published: datetime | None
    summary: list[str] = field(default_factory=list)
    body: str = ""
    context: str = ""
    url: str | None = None
    authors: list[str] = field(default_factory=list)
    publisher: str | None = None
    language_hint: str | None = None
    format: Literal["text", "json", "html", "feed"] = "text"
