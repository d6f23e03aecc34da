"""Raw event → Article: parse by content type, then normalise. Pure; no I/O."""

from datetime import UTC
from zoneinfo import ZoneInfo

from schemas.article import Article
from schemas.raw import RawArticleEvent
from services.ingest.ids import article_id, canonical_url
from services.ingest.parse import ParseError, parse_text_layout

_TEXT_TYPES = {"text/plain", "text/x-scraped-article"}


def decode_payload(event: RawArticleEvent) -> str:
    try:
        return event.payload_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError("invalid_utf8", f"payload is not UTF-8 at byte {exc.start}") from exc


def to_article(event: RawArticleEvent, source_tz: ZoneInfo) -> Article:
    media_type = event.content_type.split(";", 1)[0].strip().lower()
    if media_type not in _TEXT_TYPES:
        raise ParseError("unsupported_content_type", f"no parser for {media_type!r} yet")
    doc = parse_text_layout(decode_payload(event))
    published = doc.published_local.replace(tzinfo=source_tz).astimezone(UTC)
    url = canonical_url(event.url) if event.url else None
    return Article(
        article_id=article_id(
            url=url, source=event.source, title=doc.title, published_at=published
        ),
        url=url,
        source=event.source,
        title=doc.title,
        summary=doc.summary,
        body=doc.body,
        context=doc.context,
        published_at=published,
        fetched_at=event.fetched_at,
        content_type=media_type,
    )
