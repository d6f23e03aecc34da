"""Which parser a payload needs: the content type is a hint, the content decides."""

from enum import StrEnum


class Format(StrEnum):
    TEXT = "text"
    JSON = "json"
    HTML = "html"
    FEED = "feed"


_HINTS = {
    "application/json": Format.JSON,
    "text/json": Format.JSON,
    "application/ld+json": Format.JSON,
    "text/html": Format.HTML,
    "application/xhtml+xml": Format.HTML,
    "application/rss+xml": Format.FEED,
    "application/atom+xml": Format.FEED,
    "application/rdf+xml": Format.FEED,
    "application/xml": Format.FEED,
    "text/xml": Format.FEED,
    "text/plain": Format.TEXT,
}


def sniff(content_type: str, text: str) -> Format:
    """Content first: a JSON object, an HTML page or a feed announce themselves in their first
    bytes whatever the content type says; the hint breaks ties for ambiguous text."""
    head = text.lstrip("\ufeff \t\r\n")[:512].lower()
    if head.startswith("{") or head.startswith("["):
        return Format.JSON
    if head.startswith("<"):
        if "<rss" in head or "<feed" in head or "<rdf:rdf" in head:
            return Format.FEED
        if head.startswith("<?xml") and "<html" not in head:
            hinted = _HINTS.get(content_type.split(";", 1)[0].strip().lower())
            return Format.HTML if hinted is Format.HTML else Format.FEED
        return Format.HTML
    return Format.TEXT
