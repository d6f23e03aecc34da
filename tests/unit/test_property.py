"""Hostile input, generated: every parser raises only its declared error, whatever it is fed."""

import contextlib
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.ingest.limits import IngestLimits
from services.ingest.normalize import NormalizePolicy, normalize
from services.ingest.parse import ParseError
from services.ingest.parse.dates import parse_datetime
from services.ingest.parse.feed import parse_feed
from services.ingest.parse.html_page import parse_html
from services.ingest.parse.json_payload import parse_json
from services.ingest.parse.text_layout import parse_text_layout
from services.ingest.text import clean_block, clean_inline
from tests.helpers import raw_event

LIMITS = IngestLimits()
# Language detection is a library call on already-clean text; leaving it out keeps the
# property runs about the parsers.
POLICY = NormalizePolicy(detect_language=False)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.sampled_from(
                [
                    "title",
                    "headline",
                    "body",
                    "content",
                    "date",
                    "published_at",
                    "url",
                    "author",
                    "authors",
                    "source",
                    "summary",
                    "articles",
                    "text",
                    "x",
                ]
            ),
            children,
            max_size=6,
        )
    ),
    max_leaves=25,
)
markup = st.lists(
    st.sampled_from(
        [
            "<html>",
            "<head>",
            "<title>",
            "</title>",
            '<meta property="og:title" content="',
            '">',
            "<script>",
            "</script>",
            "<p>",
            "</p>",
            "<article>",
            "<h1>",
            "&amp;",
            '<?xml version="1.0"?>',
            '<rss version="2.0">',
            "<channel>",
            "<item>",
            "</item>",
            "<feed>",
            "<entry>",
            '<!DOCTYPE x [<!ENTITY a "b">]>',
            "&a;",
            '<link rel="canonical" href="',
            '<time datetime="',
            "2025-01-01",
        ]
    )
    | st.text(max_size=30),
    max_size=40,
).map("".join)


def only_declared(fn, *args) -> None:  # type: ignore[no-untyped-def]
    with contextlib.suppress(ParseError):
        fn(*args)


class TestParsersRaiseOnlyParseError:
    @SETTINGS
    @given(st.binary(max_size=2000))
    def test_any_bytes_through_normalize(self, data: bytes) -> None:
        text = data.decode("utf-8", "replace")
        for content_type in ("text/plain", "application/json", "text/html", "application/rss+xml"):
            only_declared(normalize, raw_event(text, content_type=content_type), POLICY)

    @SETTINGS
    @given(json_values)
    def test_any_json(self, value: object) -> None:
        only_declared(parse_json, json.dumps(value), LIMITS)
        only_declared(normalize, raw_event(json.dumps(value)), POLICY)

    @SETTINGS
    @given(markup)
    def test_markup_soup(self, text: str) -> None:
        only_declared(parse_html, text, LIMITS)
        only_declared(parse_feed, text, LIMITS)
        only_declared(normalize, raw_event(text, content_type="text/html"), POLICY)

    @SETTINGS
    @given(st.text(max_size=500))
    def test_text_layout_and_cleaning(self, text: str) -> None:
        only_declared(parse_text_layout, text)
        assert "\u200b" not in clean_inline(text)
        assert "\u202e" not in clean_block(text)

    @SETTINGS
    @given(st.one_of(json_values, st.text(max_size=40)))
    def test_timestamps(self, value: object) -> None:
        only_declared(parse_datetime, value)


# Whitespace and invisible characters of every kind, among ASCII words: what the fast paths
# of clean_inline/clean_block and content_fingerprint must treat as the plain definitions do.
spacey_text = st.text(
    alphabet=st.sampled_from(
        list("ab Z.,\t\n\r\x0b\x0c\x1c\x1f\x00\x7f\x85\xa0\u2009\u200b\u2028\u3000éß")
    ),
    max_size=80,
)


class TestFastPathsMatchTheirDefinitions:
    @SETTINGS
    @given(spacey_text)
    def test_whitespace_collapse(self, text: str) -> None:
        from services.ingest.text import _INVISIBLE

        plain = text.translate(_INVISIBLE)
        assert clean_inline(text) == " ".join(plain.split())
        paragraphs, current = [], []
        for line in plain.splitlines():
            if line.split():
                current.append(" ".join(line.split()))
            elif current:
                paragraphs.append("\n".join(current))
                current = []
        if current:
            paragraphs.append("\n".join(current))
        assert clean_block(text) == "\n\n".join(paragraphs)

    @SETTINGS
    @given(spacey_text, spacey_text)
    def test_fingerprint(self, title: str, body: str) -> None:
        import hashlib

        from services.ingest.normalize import content_fingerprint

        title, text = clean_inline(title), clean_block(body)
        joined = f"{title}\n{text}" if text else title
        squeezed = joined.casefold().replace(" ", "").replace("\n", "").encode("utf-8")
        digest = hashlib.blake2b(squeezed, digest_size=16).hexdigest()
        assert content_fingerprint(title, text)[0] == digest
