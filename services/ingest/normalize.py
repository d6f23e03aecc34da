"""Raw event → Articles: decode, pick the parser, normalise every field. Pure; no I/O.

One raw event gives one article (text layout, HTML, a JSON object) or several (a feed, a JSON
list). Items that fail are returned as their errors next to the articles that did not.
"""

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from schemas.article import Article, Flag
from schemas.raw import RawArticleEvent
from services.ingest import language
from services.ingest.ids import article_id, canonical_url
from services.ingest.limits import IngestLimits
from services.ingest.parse import ParseError
from services.ingest.parse.document import ParsedDocument
from services.ingest.parse.feed import parse_feed
from services.ingest.parse.html_page import parse_html
from services.ingest.parse.json_payload import parse_json
from services.ingest.parse.sniff import Format, sniff
from services.ingest.parse.text_layout import parse_text_layout
from services.ingest.text import clean_block, clean_inline, is_plain
from services.runtime.errors import InvalidMessage

# Publication times outside [1990, fetch + 1 day] are flagged and not trusted.
EARLIEST_PLAUSIBLE = datetime(1990, 1, 1, tzinfo=UTC)
FUTURE_TOLERANCE = timedelta(days=1)
MAX_AUTHORS = 20
# RFC 9110's type/subtype tokens. The content type is copied onto every Article, so anything
# else (a scraper bug, or "text/html<script>...") is recorded as unknown, not repeated.
_MEDIA_TYPE = re.compile(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+")
UNKNOWN_MEDIA_TYPE = "application/octet-stream"


@dataclass(frozen=True)
class NormalizePolicy:
    limits: IngestLimits = field(default_factory=IngestLimits)
    default_zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    zones: dict[str, ZoneInfo] = field(default_factory=dict)
    detect_language: bool = True
    language_accuracy: language.Accuracy = "low"

    def zone_for(self, source: str) -> ZoneInfo:
        return self.zones.get(source, self.default_zone)


@dataclass(frozen=True)
class Normalized:
    articles: list[Article]
    errors: list[ParseError]


def decode_payload(event: RawArticleEvent, limits: IngestLimits) -> tuple[str, list[Flag]]:
    if event.payload_encoding == "text":
        # Already text. A UTF-8 character is at most 4 bytes: count bytes only near the limit.
        size = len(event.payload)
        if size * 4 > limits.max_payload_bytes:
            size = len(event.payload.encode("utf-8"))
        if size > limits.max_payload_bytes:
            raise ParseError(
                "payload_too_large", f"{size} bytes > limit {limits.max_payload_bytes}"
            )
        return event.payload, []
    data = event.payload_bytes()
    if len(data) > limits.max_payload_bytes:
        raise ParseError(
            "payload_too_large", f"{len(data)} bytes > limit {limits.max_payload_bytes}"
        )
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        if limits.invalid_utf8 == "reject":
            raise ParseError("invalid_utf8", f"payload is not UTF-8 at byte {exc.start}") from exc
        return data.decode("utf-8", "replace"), ["invalid_utf8_replaced"]


def parse_documents(
    text: str, content_type: str, limits: IngestLimits
) -> list[ParsedDocument | ParseError]:
    fmt = sniff(content_type, text)
    if fmt is Format.JSON:
        return parse_json(text, limits)
    if fmt is Format.FEED:
        return parse_feed(text, limits)
    if fmt is Format.HTML:
        return [parse_html(text, limits)]
    return [parse_text_layout(text)]


def content_fingerprint(title: str, text: str) -> tuple[str, int]:
    """(blake2b-128 of the case-folded text, word count) of already-cleaned fields.

    clean_inline/clean_block leave single spaces between words, single newlines between
    lines and one blank line between paragraphs, so the text needs no second tokenisation:
    the hash is of the text with its (normalised) whitespace removed, so copies that differ
    in case, spacing or line wrapping are equal; the words are the separators plus one
    (C-speed counts, not a split).
    """
    joined = f"{title}\n{text}" if text else title
    if joined.isascii():
        # The same bytes for ASCII text (casefold is lower there), in three C passes over
        # bytes instead of four over str: ~30 % of the fingerprint's time here.
        squeezed = joined.encode().lower().translate(None, b" \n")
    else:
        squeezed = joined.casefold().replace(" ", "").replace("\n", "").encode("utf-8")
    digest = hashlib.blake2b(squeezed, digest_size=16).hexdigest()
    words = joined.count(" ") + joined.count("\n") - joined.count("\n\n") + 1
    return digest, words


def _published(
    doc: ParsedDocument, event: RawArticleEvent, zone: ZoneInfo, flags: list[Flag]
) -> tuple[datetime, str | None]:
    when = doc.published
    if when is None:
        flags.append("published_at_missing")
        return event.fetched_at, None
    if when.tzinfo is None:
        when = when.replace(tzinfo=zone)
    when = when.astimezone(UTC)
    if when < EARLIEST_PLAUSIBLE or when > event.fetched_at + FUTURE_TOLERANCE:
        flags.append("published_at_implausible")
        return event.fetched_at, when.isoformat()
    return when, None


def _url(doc: ParsedDocument, event: RawArticleEvent, flags: list[Flag]) -> str | None:
    if doc.url:
        try:
            return canonical_url(doc.url)
        except InvalidMessage:
            flags.append("url_invalid_ignored")  # the page's own link is junk; the fetch URL stands
    return canonical_url(event.url) if event.url else None


def media_type(content_type: str) -> str:
    """The type/subtype of a Content-Type value, lower-cased; UNKNOWN_MEDIA_TYPE if malformed."""
    value = content_type.split(";", 1)[0].strip().lower()
    return value if _MEDIA_TYPE.fullmatch(value) else UNKNOWN_MEDIA_TYPE


def _language_hint(hint: str | None) -> str | None:
    # A page's lang attribute is free text: only a two-letter ASCII prefix is a language.
    code = hint.split("-")[0].lower()[:2] if hint else ""
    return code if len(code) == 2 and code.isascii() and code.isalpha() else None


def check_source(source: str) -> None:
    """The source names the scraper feed and is copied onto every Article and into its id:
    markup or invisible characters in it are a broken or hostile scraper, not a new source."""
    if not is_plain(source):
        raise ParseError("invalid_source", f"source {source[:80]!r} holds markup or controls")


def check_encoded_size(article: Article, limit: int) -> None:
    # A UTF-8 character is at most 4 bytes and JSON escapes at most double an ASCII one:
    # measure the encoded record only when the characters alone might pass the limit.
    chars = (
        len(article.title)
        + len(article.body)
        + len(article.context)
        + sum(map(len, article.summary))
        + sum(map(len, article.authors))
        + len(article.publisher or "")
        + len(article.url or "")
        + 1024  # ids, times, flags and field names
    )
    if chars * 4 <= limit:
        return
    size = len(article.model_dump_json().encode("utf-8"))
    if size > limit:
        raise ParseError("article_too_large", f"{size} bytes encoded > limit {limit}")


def to_article(
    doc: ParsedDocument, event: RawArticleEvent, policy: NormalizePolicy, flags: list[Flag]
) -> Article:
    limits = policy.limits
    flags = list(flags)
    title = clean_inline(doc.title)
    if not title:
        raise ParseError("missing_title", "the title is empty after clean-up")
    if len(title) > limits.max_title_chars:
        raise ParseError("title_too_long", f"{len(title)} chars > limit {limits.max_title_chars}")
    body = clean_block(doc.body)
    if len(body) > limits.max_body_chars:
        body = body[: limits.max_body_chars].rsplit(" ", 1)[0]
        flags.append("body_truncated")
    summary = [s for s in (clean_inline(b) for b in doc.summary) if s]
    context = clean_block(doc.context)
    if not body and not summary:
        raise ParseError("empty_article", "no text after clean-up")
    published, reported = _published(doc, event, policy.zone_for(event.source), flags)
    url = _url(doc, event, flags)
    text = "\n".join([*summary, body])
    lang, confidence = (None, 0.0)
    if policy.detect_language:
        # The main text decides (a page's headline may be in another language); a main text
        # without letters (figures only) leaves it to the title.
        lang, confidence = language.detect_main_text(text, policy.language_accuracy)
        if lang is None:
            lang, confidence = language.detect(title, policy.language_accuracy)
    if lang is None:
        lang = _language_hint(doc.language_hint)
    if lang is not None and confidence < language.UNCERTAIN_BELOW:
        flags.append("language_uncertain")
    authors = list(dict.fromkeys(a for a in (clean_inline(x) for x in doc.authors) if a))
    host = urlsplit(url).hostname if url else None
    fingerprint, words = content_fingerprint(title, text)
    article = Article(
        article_id=article_id(url=url, source=event.source, title=title, published_at=published),
        url=url,
        domain=host.removeprefix("www.") if host else None,
        source=event.source,
        publisher=clean_inline(doc.publisher) or None if doc.publisher else None,
        title=title,
        summary=summary,
        body=body,
        context=context,
        authors=authors[:MAX_AUTHORS],
        published_at=published,
        published_at_reported=reported,
        fetched_at=event.fetched_at,
        language=lang,
        language_confidence=confidence if lang is not None and confidence else None,
        word_count=words,
        content_hash=fingerprint,
        content_type=media_type(event.content_type),
        format=doc.format,
        flags=list(dict.fromkeys(flags)),
    )
    check_encoded_size(article, limits.max_article_bytes)
    return article


def normalize(event: RawArticleEvent, policy: NormalizePolicy) -> Normalized:
    """All articles of one raw event, and the errors of the items that were not articles.

    Raises ParseError when the event as a whole is unusable (undecodable, unsafe, no items).
    """
    check_source(event.source)
    text, flags = decode_payload(event, policy.limits)
    articles: list[Article] = []
    errors: list[ParseError] = []
    for item in parse_documents(text, event.content_type, policy.limits):
        if isinstance(item, ParseError):
            errors.append(item)
            continue
        try:
            articles.append(to_article(item, event, policy, flags))
        except ParseError as exc:
            errors.append(exc)
    if not articles and errors:
        raise (
            errors[0]
            if len(errors) == 1
            else ParseError(
                errors[0].reason,
                "; ".join(f"item {i}: {e.detail}" for i, e in enumerate(errors))[:2000],
            )
        )
    return Normalized(articles, errors)


def single_article(event: RawArticleEvent, policy: NormalizePolicy | None = None) -> Article:
    """The one article of an event that holds exactly one (offline tools, tests, benchmarks)."""
    result = normalize(event, policy or NormalizePolicy())
    if len(result.articles) != 1 or result.errors:
        raise ParseError("not_one_article", f"{len(result.articles)} articles, {result.errors}")
    return result.articles[0]
