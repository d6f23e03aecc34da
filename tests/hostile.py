"""The hostile corpus: raw records built to break ingest, each with the outcome it must have.

Small payloads live in tests/fixtures/hostile/ (README.md says what each attacks); the big
ones (megabytes, 100,000 nested tags) are generated here so the repository stays small.
``record`` is the exact Kafka value produced to news.raw: most wrap a payload in a
RawArticleEvent as a scraper would (text, or base64 when it is not UTF-8); some are broken
envelopes. ``expect`` is "article" (at least one Article comes out; a list with bad items is also
dead-lettered as ``items_rejected``) or the dead-letter reason code.
"""

import base64
import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from services.ingest.limits import IngestLimits

HOSTILE = Path(__file__).parent / "fixtures" / "hostile"
FETCHED = datetime(2025, 3, 10, 8, 0, tzinfo=UTC)
# The broker's default message.max.bytes (a record batch of one record must fit in it).
BROKER_MAX_MESSAGE_BYTES = 1_048_588
# Batch and record framing, a ~40-byte key and a traceparent header: what a record adds to its
# value on the wire (measured: a value this much under the limit is accepted).
RECORD_OVERHEAD_BYTES = 400
LIMITS = IngestLimits()


@dataclass(frozen=True)
class Hostile:
    name: str
    record: bytes
    expect: str  # "article" or a dead-letter reason

    @property
    def expects_article(self) -> bool:
        return self.expect == "article"


def envelope(
    payload: bytes,
    content_type: str,
    *,
    source: str = "hostile",
    url: str | None = None,
) -> bytes:
    """A RawArticleEvent as a scraper writes it: text when UTF-8, else base64."""
    try:
        text, encoding = payload.decode("utf-8"), "text"
    except UnicodeDecodeError:
        text, encoding = base64.b64encode(payload).decode(), "base64"
    event = {
        "source": source,
        "content_type": content_type,
        "url": url,
        "fetched_at": FETCHED.isoformat(),
        "payload_encoding": encoding,
        "payload": text,
    }
    return json.dumps(event, ensure_ascii=False).encode("utf-8")


# file → (content type, expected outcome). Types are what a careless or hostile scraper sends.
FILES: dict[str, tuple[str, str]] = {
    "billion-laughs.rss": ("application/rss+xml", "unsafe_xml"),
    "xxe-file.rss": ("application/rss+xml", "unsafe_xml"),
    "xxe-http.atom": ("application/atom+xml", "unsafe_xml"),
    "dtd-retrieval.rss": ("application/rss+xml", "unsafe_xml"),
    "parameter-entity.rss": ("text/plain", "unsafe_xml"),  # wrong type: content decides
    "xinclude.rss": ("application/rss+xml", "article"),
    "xxe-in-html.html": ("text/html", "article"),
    "script-injection.html": ("text/html", "article"),
    "double-encoded.rss": ("application/json", "article"),  # wrong type
    # The unclosed <title makes the rest of the page its text: no body is left.
    "malformed.html": ("text/html", "empty_article"),
    "script-in-json.json": ("text/html", "article"),  # wrong type
    "urls.json": ("application/json", "article"),
    "huge-numbers.json": ("application/json", "invalid_json"),
    "huge-float-date.json": ("application/json", "invalid_timestamp"),
    "empty.txt": ("text/plain", "unparseable_payload"),
    "whitespace.txt": ("text/plain", "unparseable_payload"),
    "nul-controls.txt": ("text/plain", "article"),
    "bidi-zero-width.txt": ("text/plain", "article"),
    "invalid-utf8.txt": ("text/plain", "article"),
    "utf16-bom.txt": ("text/plain", "unparseable_payload"),
    "mixed-encoding.txt": ("text/plain", "article"),
}


def _layout(title: str, body: str) -> str:
    return f"{title}\n2025-03-01 10:00- A first summary bullet.\nInsights\n{body}\n"


def _quadratic_blowup() -> bytes:
    # One 50 KB entity referenced 20,000 times: 1 GB expanded, no nesting for a depth limit.
    entity = "A" * 50_000
    refs = "&a;" * 20_000
    return (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "{entity}">]>'
        f'<rss version="2.0"><channel><title>Q</title><item><title>Quadratic</title>'
        f"<description>{refs}</description></item></channel></rss>"
    ).encode()


def generated() -> list[Hostile]:
    """The big and the envelope-level cases, built at test time."""
    max_payload = LIMITS.max_payload_bytes
    words = "word " * (max_payload // 5)
    long_title = "T" * 100_000
    many_items = {
        "articles": [{"title": f"Item {i}", "body": "x"} for i in range(LIMITS.max_feed_items + 1)]
    }
    text_event = envelope(_layout("Plain title", "Plain body.").encode(), "text/plain")
    cases = [
        Hostile(
            "quadratic-blowup.rss",
            envelope(_quadratic_blowup(), "application/rss+xml"),
            "unsafe_xml",
        ),
        Hostile(
            "json-10k-deep",
            envelope(b"[" * 10_000 + b"]" * 10_000, "application/json"),
            "json_too_deep",
        ),
        Hostile(
            "json-10k-deep-objects",
            envelope(b'{"a":' * 10_000 + b"1" + b"}" * 10_000, "application/json"),
            "json_too_deep",
        ),
        Hostile(
            "json-long-title",
            envelope(json.dumps({"title": long_title, "body": "b"}).encode(), "application/json"),
            "title_too_long",
        ),
        Hostile(
            "json-too-many-items",
            envelope(json.dumps(many_items).encode(), "application/json"),
            "too_many_items",
        ),
        Hostile(
            "html-100k-nested-divs",
            envelope(
                b"<html><head><title>Deep</title></head><body>"
                + b"<div>" * 100_000
                + b"<p>text</p></body></html>",
                "text/html",
            ),
            "html_too_deep",
        ),
        Hostile(
            "json-body-100k-nested-divs",
            envelope(
                json.dumps({"title": "Deep body", "body": "<div>" * 100_000 + "x"}).encode(),
                "application/json",
            ),
            "html_too_deep",
        ),
        Hostile(
            "html-over-html-limit",
            envelope(
                b"<html><head><title>Big</title></head><body><p>"
                + b"word " * (LIMITS.max_html_bytes // 5 + 10)
                + b"</p></body></html>",
                "text/html",
            ),
            "html_too_large",
        ),
        # Body of ~2 MiB, just under the payload limit: cut to max_body_chars and flagged.
        Hostile(
            "text-body-just-under-payload-limit",
            envelope(_layout("Long body", words)[: max_payload - 64].encode(), "text/plain"),
            "article",
        ),
        # Under the envelope's 2 Mi characters, over the 2 MiB payload limit in UTF-8 bytes.
        Hostile(
            "text-payload-multibyte-over-limit",
            envelope(("\U0001f600" * (max_payload // 4 + 1)).encode(), "text/plain"),
            "payload_too_large",
        ),
        # Base64 of more than 2 MiB: longer than the envelope allows.
        Hostile(
            "base64-payload-over-envelope",
            envelope(b"\xff" + b"x" * max_payload, "text/plain"),
            "invalid_envelope",
        ),
        # NFC expands U+1D160 (4 bytes) to three code points (12 bytes): a 1 MB record
        # would become a 3 MB Article, past any broker's default limit.
        Hostile(
            "nfc-expansion",
            envelope(
                json.dumps(
                    {"title": "Expansion", "body": "b", "context": "\U0001d160" * 200_000},
                    ensure_ascii=False,
                ).encode(),
                "application/json",
            ),
            "article_too_large",
        ),
        Hostile("record-random-bytes", os.urandom(512), "invalid_envelope"),
        Hostile("record-invalid-utf8", b'\xff\xfe{"source": "x"}\xc3\x28', "invalid_envelope"),
        Hostile("record-empty", b"", "invalid_envelope"),
        Hostile("record-json-not-event", b'{"not": "an event"}', "invalid_envelope"),
        Hostile("record-json-array", b"[1, 2, 3]", "invalid_envelope"),
        Hostile(
            "record-nul-in-json",
            text_event.replace(b'"hostile"', b'"host\\u0000ile"'),
            "invalid_source",
        ),
        Hostile(
            "record-bad-base64",
            text_event.replace(b'"text"', b'"base64"', 1),
            "invalid_envelope",
        ),
        # Just under the broker's limit, and not an event: its dead letter (the same bytes
        # plus reason headers) must still fit the dead-letter topic.
        Hostile(
            "record-just-under-broker-limit",
            b"x" * (BROKER_MAX_MESSAGE_BYTES - RECORD_OVERHEAD_BYTES),
            "invalid_envelope",
        ),
        Hostile(
            "url-with-credentials",
            envelope(
                _layout("Credentials", "Body.").encode(),
                "text/plain",
                url="https://user:secret@example.com/a",
            ),
            "invalid_url",
        ),
        Hostile(
            "url-javascript",
            envelope(_layout("JS", "Body.").encode(), "text/plain", url="javascript:alert(1)"),
            "invalid_url",
        ),
        Hostile(
            "url-data",
            envelope(
                _layout("Data", "Body.").encode(),
                "text/plain",
                url="data:text/html,<script>alert(1)</script>",
            ),
            "invalid_url",
        ),
        Hostile(
            "source-script",
            envelope(
                _layout("Source", "Body.").encode(),
                "text/plain",
                source="<script>alert(1)</script>",
            ),
            "invalid_source",
        ),
        Hostile(
            "source-bidi",
            envelope(_layout("Source", "Body.").encode(), "text/plain", source="bbc\u202eevil"),
            "invalid_source",
        ),
        Hostile(
            "content-type-injection",
            envelope(
                _layout("Content type injection", "A body that parses fine.").encode(),
                "text/plain<img src=x onerror=alert(1)>",
            ),
            "article",
        ),
        Hostile(
            "content-type-garbage",
            envelope(
                _layout("Garbage content type", "A body that parses fine.").encode(), "\x00\x01"
            ),
            "article",
        ),
    ]
    return cases


def corpus() -> list[Hostile]:
    """Every hostile record, files first."""
    cases = [
        Hostile(name, envelope((HOSTILE / name).read_bytes(), content_type), expect)
        for name, (content_type, expect) in FILES.items()
    ]
    return cases + generated()


# What must never appear in any string field of an Article built from the corpus.
FORBIDDEN = [
    re.compile(r"<\s*/?\s*(script|style|iframe|svg|img|object|embed)\b", re.IGNORECASE),
    re.compile(r"\bon[a-z]+\s*=", re.IGNORECASE),
    re.compile(r"javascript:", re.IGNORECASE),
    re.compile(r"\bdata:text/html", re.IGNORECASE),
    re.compile(r"root:.*:0:0:"),  # /etc/passwd's first line, had an entity been resolved
    re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]"),
]


def forbidden_in(fields: dict[str, object]) -> list[str]:
    """'field: pattern' for every forbidden pattern found in the (nested) string fields."""
    found: list[str] = []

    def walk(path: str, value: object) -> None:
        if isinstance(value, str):
            found.extend(f"{path}: {p.pattern}" for p in FORBIDDEN if p.search(value))
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(f"{path}.{k}", v)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(f"{path}[{i}]", v)

    walk("", fields)
    return found
