"""HTML article pages: metadata from Open Graph, article:* and JSON-LD ``NewsArticle``; the
main text from trafilatura (boilerplate, navigation, ads and comments removed).

lexbor (selectolax) reads the metadata in ~0.02 ms; trafilatura's extraction, in its fast
mode, takes ~0.6 ms of the ~0.8 ms a page costs (bench/ingest.py).
"""

import json
from typing import Any

import trafilatura
from selectolax.lexbor import LexborHTMLParser, LexborNode
from trafilatura.settings import Extractor

from services.ingest.limits import IngestLimits
from services.ingest.parse.dates import parse_datetime
from services.ingest.parse.document import ParsedDocument
from services.ingest.parse.errors import ParseError
from services.ingest.parse.json_payload import check_depth
from services.ingest.text import check_markup_depth

# The extraction options, built once: extract(**keywords) builds an Extractor from the
# config file's values on every call, ~0.08 ms of a bench page's ~0.6 ms (measured here).
# The same values as extract(text, fast=True, include_comments=False, include_tables=False,
# favor_precision=True); trafilatura reads them and never writes them.
_EXTRACTION = Extractor(
    output_format="txt",
    fast=True,
    precision=True,
    comments=False,
    tables=False,
)

_ARTICLE_TYPES = {
    "NewsArticle",
    "Article",
    "ReportageNewsArticle",
    "AnalysisNewsArticle",
    "BlogPosting",
    "OpinionNewsArticle",
    "LiveBlogPosting",
}


def _meta_index(tree: LexborHTMLParser) -> dict[str, str | None]:
    """property or name → content of the first <meta> (in document order) carrying it.

    One walk over the <meta> elements (by tag name, no CSS engine: ~3 µs for a bench page)
    where a CSS query per name, up to 18 a page, took ~30 µs here. Values match
    case-sensitively, as lexbor's ``meta[name="..."]`` did.
    """
    index: dict[str, str | None] = {}
    for node in tree.tags("meta"):
        attrs = node.attributes
        content = attrs.get("content")
        for key in (attrs.get("property"), attrs.get("name")):
            if key is not None and key not in index:
                index[key] = content
    return index


def _meta(index: dict[str, str | None], *names: str) -> str | None:
    """The first of ``names`` whose first <meta> has a non-blank content."""
    for name in names:
        content = index.get(name)
        if content and content.strip():
            return content.strip()
    return None


def _types(obj: dict[str, Any]) -> set[str]:
    t = obj.get("@type")
    return set(t) if isinstance(t, list) else {t} if isinstance(t, str) else set()


def _json_ld_article(tree: LexborHTMLParser, limits: IngestLimits) -> dict[str, Any]:
    for script in tree.css('script[type="application/ld+json"]'):
        text = script.text() or ""
        try:
            check_depth(text, limits.max_json_depth)
            data = json.loads(text)
        except (ValueError, RecursionError, ParseError):
            continue  # broken JSON-LD is common; the page may still have Open Graph data
        candidates = data if isinstance(data, list) else [data]
        for item in list(candidates):
            if isinstance(item, dict) and isinstance(item.get("@graph"), list):
                candidates.extend(item["@graph"])
        for item in candidates:
            if isinstance(item, dict) and _types(item) & _ARTICLE_TYPES:
                return item
    return {}


def _ld_names(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    names = []
    for item in items:
        if isinstance(item, str):
            names.append(item)
        elif isinstance(item, dict) and isinstance(item.get("name"), str):
            names.append(item["name"])
    return names


def _attr(node: LexborNode | None, name: str) -> str | None:
    value = node.attributes.get(name) if node is not None else None
    return value.strip() if value else None


def parse_html(text: str, limits: IngestLimits) -> ParsedDocument:
    size = len(text.encode("utf-8"))
    if size > limits.max_html_bytes:
        raise ParseError("html_too_large", f"{size} bytes > limit {limits.max_html_bytes}")
    # Before any parser: lexbor's cost grows with depth x tags (see limits.MAX_MARKUP_DEPTH).
    check_markup_depth(text, limits.max_html_depth)
    tree = LexborHTMLParser(text)
    metas = _meta_index(tree)
    ld = _json_ld_article(tree, limits)
    title_node = tree.css_first("title")
    h1 = tree.css_first("h1")
    title = (
        _meta(metas, "og:title", "twitter:title")
        or (ld.get("headline") if isinstance(ld.get("headline"), str) else None)
        or (h1.text(strip=True) if h1 is not None else None)
        or (title_node.text(strip=True) if title_node is not None else None)
    )
    if not title:
        raise ParseError("missing_title", "no og:title, JSON-LD headline, <h1> or <title>")

    published_raw: Any = (
        _meta(
            metas,
            "article:published_time",
            "og:published_time",
            "pubdate",
            "publishdate",
            "date",
            "dc.date",
            "DC.date.issued",
            "sailthru.date",
        )
        or ld.get("datePublished")
        or _attr(tree.css_first("time[datetime]"), "datetime")
    )
    try:
        published = parse_datetime(published_raw) if published_raw else None
    except ParseError:
        published = None  # an unreadable page date: normalisation flags the missing time

    url = (
        _attr(tree.css_first('link[rel="canonical"]'), "href")
        or _meta(metas, "og:url")
        or (ld.get("url") if isinstance(ld.get("url"), str) else None)
    )
    authors = _ld_names(ld.get("author")) or [
        a for a in [_meta(metas, "author", "article:author", "byl")] if a
    ]
    publisher = _meta(metas, "og:site_name") or next(iter(_ld_names(ld.get("publisher"))), None)
    description = _meta(metas, "og:description", "description", "twitter:description")
    html_node = tree.css_first("html")

    body = ld.get("articleBody") if isinstance(ld.get("articleBody"), str) else None
    if not body:
        try:
            body = trafilatura.extract(text, options=_EXTRACTION)
        except Exception as exc:  # trafilatura on hostile markup: dead-letter, never crash
            raise ParseError("html_extraction_failed", f"{type(exc).__name__}: {exc}") from exc
        body = (body or "").replace("\n", "\n\n")  # trafilatura: one line per paragraph
    first, _, rest = body.partition("\n")
    if first.strip() == title.strip():
        body = rest  # trafilatura repeats the <h1> as the first line
    if not body.strip() and not description:
        raise ParseError("empty_article", "no main text found in the page")
    return ParsedDocument(
        title=title,
        published=published,
        summary=[description] if description else [],
        body=body,
        url=url,
        authors=authors,
        publisher=publisher,
        language_hint=_attr(html_node, "lang"),
        format="html",
    )
