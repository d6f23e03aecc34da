"""The scraped text layout scrapers send for "insights" pages.

::

    <title line>
    2025-03-01 23:24- <first summary bullet>
    - <more summary bullets>
    Express your sentiment!          (page furniture, dropped)
    Insights
    <body paragraphs>
    Contexts
    <background paragraphs>

The timestamp carries no zone; the caller decides which zone it is in.
"""

import re
from datetime import datetime

from services.ingest.parse.document import ParsedDocument
from services.ingest.parse.errors import ParseError

# "2025-03-01 23:24- Sir Keir ..." : the first bullet shares the date line.
_DATE_LINE = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[ T](?P<time>\d{1,2}:\d{2}(?::\d{2})?)\s*(?:-\s*(?P<rest>.*))?$"
)
_BULLET = re.compile(r"^[-•*]\s+(?P<text>.+)$")
_FURNITURE = {"express your sentiment!"}
_SECTIONS = {"insights": "body", "contexts": "context", "context": "context"}


def parse_text_layout(text: str) -> ParsedDocument:
    lines = [line.strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    lines = [line for line in lines if line]
    if len(lines) < 2:
        raise ParseError("unparseable_payload", "text layout needs a title line and a date line")
    title, date_line, *rest = lines
    match = _DATE_LINE.match(date_line)
    if not match:
        raise ParseError(
            "unparseable_payload",
            f"second line is not 'YYYY-MM-DD HH:MM- ...': {date_line[:80]!r}",
        )
    try:
        published = datetime.fromisoformat(f"{match['date']}T{match['time'].zfill(5)}")
    except ValueError as exc:
        raise ParseError("invalid_timestamp", f"{match['date']} {match['time']}: {exc}") from exc

    summary: list[str] = []
    sections: dict[str, list[str]] = {"body": [], "context": []}
    first = (match["rest"] or "").strip()
    if first:
        summary.append(first)
    current = "summary"
    for line in rest:
        lowered = line.lower()
        if lowered in _FURNITURE:
            continue
        if lowered in _SECTIONS:
            current = _SECTIONS[lowered]
            continue
        bullet = _BULLET.match(line)
        if current == "summary" and bullet:
            summary.append(bullet["text"].strip())
            continue
        # Text before any section header is the body (pages without an "Insights" header).
        sections["body" if current == "summary" else current].append(line)

    body = "\n\n".join(sections["body"])
    if not summary and not body:
        raise ParseError("empty_article", "no summary bullets and no body text")
    return ParsedDocument(
        title=title,
        published=published,
        summary=summary,
        body=body,
        context="\n\n".join(sections["context"]),
    )
