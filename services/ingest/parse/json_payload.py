"""JSON payloads as scrapers vary them: one article object, a list of them, or an object with an
``articles``/``items``/``data`` list. Field names differ by scraper; the first present wins."""

import json
import re
from typing import Any

from services.ingest.limits import IngestLimits
from services.ingest.parse.dates import parse_datetime
from services.ingest.parse.document import ParsedDocument
from services.ingest.parse.errors import ParseError

_TITLE = ("title", "headline", "name")
_BODY = ("body", "content", "text", "articleBody", "article_body", "full_text", "description")
_SUMMARY = ("summary", "bullets", "highlights", "excerpt", "lead", "abstract", "description")
_CONTEXT = ("context", "contexts", "background")
_URL = ("url", "link", "canonical_url", "canonicalUrl", "permalink", "href")
_PUBLISHED = (
    "published_at",
    "publishedAt",
    "published",
    "datePublished",
    "date_published",
    "pubDate",
    "date",
    "created_at",
    "createdAt",
    "timestamp",
    "time",
)
_AUTHORS = ("authors", "author", "byline", "creator", "creators")
_PUBLISHER = ("source", "publisher", "site", "site_name", "siteName", "outlet")
_LANGUAGE = ("language", "lang", "locale", "inLanguage")
_LISTS = ("articles", "items", "data", "results", "entries")
_STRING_OR_BRACKET = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def check_depth(text: str, limit: int) -> None:
    """Rejects nesting deeper than ``limit`` before parsing (a 100k-deep array would otherwise
    cost a RecursionError deep inside the parser)."""
    if text.count("[") + text.count("{") <= limit:
        return  # cannot nest deeper than it has brackets; counting is a C-speed scan
    depth = 0
    for match in _STRING_OR_BRACKET.finditer(text):
        token = match.group(0)
        if token in "[{":
            depth += 1
            if depth > limit:
                raise ParseError("json_too_deep", f"nesting deeper than {limit}")
        elif token in "]}":
            depth -= 1


def loads_bounded(text: str, limits: IngestLimits) -> Any:
    check_depth(text, limits.max_json_depth)

    def bounded_int(digits: str) -> int:
        if len(digits.lstrip("-")) > limits.max_json_int_digits:
            raise ValueError(f"integer of {len(digits)} digits")
        return int(digits)

    try:
        return json.loads(text, parse_int=bounded_int)
    except (ValueError, RecursionError) as exc:
        raise ParseError("invalid_json", str(exc)[:300]) from exc


def _first(obj: dict[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        value = obj.get(name)
        if value not in (None, "", [], {}):
            return value
    return None


def _text(value: Any) -> str | None:
    """A string, or the text inside WordPress-style {"rendered": ...} / {"text": ...} objects."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        inner = _first(value, ("rendered", "text", "value", "html", "name"))
        return inner if isinstance(inner, str) else None
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return "\n\n".join(value)
    return None


def _names(value: Any) -> list[str]:
    """Authors as a string ("A, B and C" stays one byline), a list of strings or of {name}."""
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        name = item if isinstance(item, str) else _text(item) if isinstance(item, dict) else None
        if name and name.strip():
            out.append(name.strip())
    return out


def _bullets(value: Any) -> list[str]:
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str) and v.strip()]
    text = _text(value)
    return [text] if text else []


def article_from_object(obj: dict[str, Any]) -> ParsedDocument:
    title = _text(_first(obj, _TITLE))
    if not title:
        raise ParseError("missing_title", f"no title among {', '.join(_TITLE)}")
    body_key = next((k for k in _BODY if _text(obj.get(k))), None)
    body = _text(obj[body_key]) if body_key else ""
    summary_key = next((k for k in _SUMMARY if k != body_key and obj.get(k)), None)
    summary = _bullets(obj[summary_key]) if summary_key else []
    published_value = _first(obj, _PUBLISHED)
    published = parse_datetime(published_value) if published_value is not None else None
    url = _first(obj, _URL)
    publisher_value = _first(obj, _PUBLISHER)
    publisher = _text(publisher_value)
    if url is None and isinstance(publisher_value, dict):
        url = None  # a source's own URL is its home page, not the article's
    language = _first(obj, _LANGUAGE)
    return ParsedDocument(
        title=title,
        published=published,
        summary=summary,
        body=body or "",
        context=_text(_first(obj, _CONTEXT)) or "",
        url=url if isinstance(url, str) else None,
        authors=_names(_first(obj, _AUTHORS)) if _first(obj, _AUTHORS) is not None else [],
        publisher=publisher,
        language_hint=language if isinstance(language, str) else None,
        format="json",
    )


def parse_json(text: str, limits: IngestLimits) -> list[ParsedDocument | ParseError]:
    """Every article object in the payload; an object that is not an article is its error."""
    data = loads_bounded(text, limits)
    if isinstance(data, dict):
        listed = next((data[k] for k in _LISTS if isinstance(data.get(k), list)), None)
        objects = listed if listed is not None else [data]
    elif isinstance(data, list):
        objects = data
    else:
        raise ParseError("invalid_json", f"top level is {type(data).__name__}, not an object")
    if not objects:
        raise ParseError("empty_article", "no article objects in the payload")
    if len(objects) > limits.max_feed_items:
        raise ParseError(
            "too_many_items", f"{len(objects)} articles > limit {limits.max_feed_items}"
        )
    out: list[ParsedDocument | ParseError] = []
    for i, obj in enumerate(objects):
        if not isinstance(obj, dict):
            out.append(ParseError("invalid_json", f"item {i} is {type(obj).__name__}"))
            continue
        try:
            out.append(article_from_object(obj))
        except ParseError as exc:
            out.append(exc)
    return out
