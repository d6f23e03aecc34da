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
