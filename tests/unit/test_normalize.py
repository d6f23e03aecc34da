"""Normalisation rules and limits, each on a minimal input."""

import base64
import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from schemas.raw import RawArticleEvent
from services.ingest.limits import IngestLimits
from services.ingest.normalize import NormalizePolicy, normalize, single_article
from services.ingest.parse import ParseError
from services.ingest.parse.dates import parse_datetime
from services.ingest.text import clean_block, clean_inline
from tests.helpers import FETCHED, raw_event, seed_text


def article_json(**fields: object) -> str:
    return json.dumps({"title": "A title", "body": "Some body text.", **fields})


class TestTextCleaning:
    def test_zero_width_and_bidi_removed(self) -> None:
        assert clean_inline("Ukr\u200baine\u202e talks\u2066 \ufeffnow") == "Ukraine talks now"

    def test_nfc(self) -> None:
        assert clean_inline("Cafe\u0301") == "Café"

    def test_controls_removed_whitespace_collapsed(self) -> None:
        assert clean_inline("a\x00b\x07 \t  c\n d") == "ab c d"

    def test_markup_to_text_without_script_or_handlers(self) -> None:
        html = (
            '<p onclick="x()">One <b>bold</b></p>'
            "<script>evil()</script><style>p{}</style><p>Two</p>"
        )
        assert clean_block(html) == "One bold\n\nTwo"
        assert clean_inline("Tom &amp; Jerry &lt;3") == "Tom & Jerry <3"

    def test_text_without_markup_untouched_but_paragraphs_kept(self) -> None:
        assert clean_block("a  b\n\n\n\nc \r\nd") == "a b\n\nc\nd"


class TestTimestamps:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("2025-03-01T23:24:00Z", datetime(2025, 3, 1, 23, 24, tzinfo=UTC)),
            ("2025-03-01T23:24:00-05:00", datetime(2025, 3, 2, 4, 24, tzinfo=UTC)),
            ("Sat, 01 Mar 2025 23:24:00 GMT", datetime(2025, 3, 1, 23, 24, tzinfo=UTC)),
            (1740871440, datetime(2025, 3, 1, 23, 24, tzinfo=UTC)),
            (1740871440000, datetime(2025, 3, 1, 23, 24, tzinfo=UTC)),
            ("1740871440", datetime(2025, 3, 1, 23, 24, tzinfo=UTC)),
            ("March 1, 2025 11:24 PM UTC", datetime(2025, 3, 1, 23, 24, tzinfo=UTC)),
        ],
    )
    def test_forms(self, value: object, expected: datetime) -> None:
        assert parse_datetime(value).astimezone(UTC) == expected

    def test_naive_stays_naive_for_the_caller(self) -> None:
        assert parse_datetime("2025-03-01 23:24").tzinfo is None

    @pytest.mark.parametrize("value", ["soon", "", True, None, [1], float("nan"), -5, "x" * 500])
    def test_rejects(self, value: object) -> None:
        with pytest.raises(ParseError):
            parse_datetime(value)

    def test_per_source_zone_for_naive_times(self) -> None:
        policy = NormalizePolicy(zones={"kyiv": ZoneInfo("Europe/Kyiv")})
        kyiv = single_article(raw_event(seed_text(), source="kyiv"), policy)
        other = single_article(raw_event(seed_text(), source="other"), policy)
        assert kyiv.published_at == datetime(2025, 3, 1, 21, 24, tzinfo=UTC)
        assert other.published_at == datetime(2025, 3, 1, 23, 24, tzinfo=UTC)

    @pytest.mark.parametrize("when", ["1985-06-01T00:00:00Z", "2030-01-01T00:00:00Z"])
    def test_implausible_times_flagged_and_not_trusted(self, when: str) -> None:
        a = single_article(raw_event(article_json(published_at=when)))
        assert "published_at_implausible" in a.flags
        assert a.published_at == FETCHED
        assert a.published_at_reported is not None
        assert a.published_at_reported.startswith(when[:10])

    def test_a_day_ahead_is_still_plausible(self) -> None:
        a = single_article(raw_event(article_json(published_at="2025-03-11T07:00:00Z")))
        assert a.flags == []


class TestIdsAndFields:
    def test_url_from_payload_canonicalised_and_domain(self) -> None:
        a = single_article(
            raw_event(article_json(url="HTTP://WWW.Example.com:80/p?b=1&utm_x=2&a=0#f"))
        )
        assert a.url == "http://www.example.com/p?a=0&b=1"
        assert a.domain == "example.com"

    def test_event_url_used_when_payload_has_none(self) -> None:
        a = single_article(raw_event(article_json(), url="https://example.org/a?fbclid=zz"))
        assert a.url == "https://example.org/a"

    def test_same_text_same_content_hash_whatever_the_case_and_spacing(self) -> None:
        one = single_article(raw_event(article_json(body="Same  text here.")))
        two = single_article(raw_event(article_json(title="A TITLE", body="same text\nhere.")))
        assert one.content_hash == two.content_hash

    def test_word_count_and_language(self) -> None:
        a = single_article(raw_event(seed_text()))
        assert a.language == "en"
        assert a.language_confidence is not None
        assert a.language_confidence > 0.9
        # title, summary and body; the background section is not the article's own words
        assert a.word_count == len(" ".join([a.title, *a.summary, a.body]).split())
        assert 200 < a.word_count < 300


class TestLimits:
    def policy(self, **limits: object) -> NormalizePolicy:
        return NormalizePolicy(limits=IngestLimits(**limits))  # type: ignore[arg-type]

    def reason(self, event: RawArticleEvent, policy: NormalizePolicy) -> str:
        with pytest.raises(ParseError) as caught:
            normalize(event, policy)
        return caught.value.reason

    def test_payload_size(self) -> None:
        event = raw_event(article_json(body="x" * 5000))
        assert self.reason(event, self.policy(max_payload_bytes=4096)) == "payload_too_large"

    def test_title_length(self) -> None:
        event = raw_event(article_json(title="t" * 101))
        assert self.reason(event, self.policy(max_title_chars=100)) == "title_too_long"

    def test_body_truncated_and_flagged(self) -> None:
        a = normalize(raw_event(article_json(body="word " * 600)), self.policy(max_body_chars=1000))
        [article] = a.articles
        assert len(article.body) <= 1000
        assert "body_truncated" in article.flags

    def test_json_depth(self) -> None:
        deep = '{"title": "t", "body": "b", "x": ' + "[" * 40 + "]" * 40 + "}"
        assert self.reason(raw_event(deep), self.policy(max_json_depth=32)) == "json_too_deep"

    def test_json_brackets_inside_strings_do_not_count(self) -> None:
        text = article_json(body="[[[[[[[[[[{{{{{{{{{{ in a string")
        assert normalize(raw_event(text), self.policy(max_json_depth=2)).articles

    def test_json_integer_digits(self) -> None:
        text = '{"title": "t", "body": "b", "n": ' + "9" * 30 + "}"
        assert self.reason(raw_event(text), self.policy(max_json_int_digits=20)) == "invalid_json"

    def test_html_size(self) -> None:
        html = "<html><head><title>t</title></head><body>" + "<p>x</p>" * 500 + "</body></html>"
        event = raw_event(html, content_type="text/html")
        assert self.reason(event, self.policy(max_html_bytes=2048)) == "html_too_large"

    def test_feed_items(self) -> None:
        items = "".join(
            f"<item><title>t{i}</title><description>d</description></item>" for i in range(5)
        )
        feed = f'<?xml version="1.0"?><rss version="2.0"><channel>{items}</channel></rss>'
        assert self.reason(raw_event(feed), self.policy(max_feed_items=3)) == "too_many_items"

    def latin1_event(self) -> RawArticleEvent:
        data = "Café talks\n2025-01-01 00:00- Crème brûlée\n".encode("latin-1")
        return RawArticleEvent(
            source="s",
            fetched_at=FETCHED,
            payload_encoding="base64",
            payload=base64.b64encode(data).decode(),
        )

    def test_invalid_utf8_replaced_by_default(self) -> None:
        [a] = normalize(self.latin1_event(), self.policy()).articles
        assert "invalid_utf8_replaced" in a.flags
        assert "\ufffd" in a.title

    def test_invalid_utf8_rejected_by_policy(self) -> None:
        assert (
            self.reason(self.latin1_event(), self.policy(invalid_utf8="reject")) == "invalid_utf8"
        )


class TestFingerprint:
    """The count-based word count equals a real split on cleaned text, whatever the input."""

    @pytest.mark.parametrize(
        "raw",
        [
            "one",
            "a  b\n\n\nc d\n e",
            "  lead\t tab\r\nx\n\n\n\ny  ",
            "x\u00a0y\u2003z",
            "p1\n\np2\nl2",
        ],
    )
    def test_word_count_matches_split(self, raw: str) -> None:
        from services.ingest.normalize import content_fingerprint

        title, text = clean_inline("Title here"), clean_block(raw)
        _, words = content_fingerprint(title, text)
        assert words == len(f"{title}\n{text}".split())


class TestLanguage:
    """The main text decides the language; a title-only article falls back to its title."""

    def test_headline_in_another_language_than_the_text(self) -> None:
        body = (
            "Der Bundestag hat am Donnerstag in erster Lesung über den Bundeshaushalt beraten. "
            "Die Opposition kritisierte die geplante Neuverschuldung."
        )
        a = single_article(raw_event(article_json(title="Budget debate in Berlin", body=body)))
        assert a.language == "de"

    def test_a_main_text_without_letters_leaves_it_to_the_title(self) -> None:
        title = "Les ministres discutent des garanties de sécurité"
        a = single_article(raw_event(article_json(title=title, body="12 345 678 — 2025")))
        assert a.language == "fr"

    def test_short_uncertain_start_falls_back_to_a_longer_sample(self) -> None:
        from services.ingest import language

        lang, confidence = language.detect_main_text("OK. " + "Die Regierung plant " * 12)
        assert lang == "de"
        assert confidence > 0.5
