"""The scraped text layout parser, on the seed fixture and on its variants."""

from datetime import datetime

import pytest

from services.ingest.parse import ParseError, parse_text_layout
from tests.helpers import SEED_PATH, SHARED_SEED, seed_text


class TestSeedFixture:
    """The seed article parses into title, three bullets, body, context and a timestamp."""

    def test_title(self) -> None:
        doc = parse_text_layout(seed_text())
        assert doc.title == "Starmer meets Trump in critical talks over Ukraine security guarantees"

    def test_all_three_bullets(self) -> None:
        doc = parse_text_layout(seed_text())
        assert doc.summary == [
            "Sir Keir Starmer visited Washington, D.C. for talks with U.S. President Donald Trump "
            "focused on Ukraine.",
            "Trump praised Starmer as a negotiator but avoided committing to increased military "
            "support for Ukraine.",
            "The discussions indicate a need for stronger European involvement in defense and "
            "security matters.",
        ]

    def test_body_and_context_are_separate(self) -> None:
        doc = parse_text_layout(seed_text())
        assert doc.body.startswith("On February 27, 2025, Sir Keir Starmer, the Prime Minister")
        assert doc.body.endswith("amidst the complex geopolitical landscape.")
        assert doc.context.startswith("The topic of Ukraine's security guarantees from the United")
        assert "Express your sentiment!" not in doc.body + doc.context
        assert "Insights" not in doc.body
        assert "Contexts" not in doc.context

    def test_timestamp_is_naive_local_time(self) -> None:
        assert parse_text_layout(seed_text()).published == datetime(2025, 3, 1, 23, 24)

    def test_bundled_copy_matches_shared_fixture(self) -> None:
        if not SHARED_SEED.exists():
            pytest.skip("shared/ is not beside this checkout")
        assert SEED_PATH.read_bytes() == SHARED_SEED.read_bytes()


class TestVariants:
    """Layouts scrapers produce when a page lacks a section or uses other line endings."""

    def test_crlf_and_blank_lines(self) -> None:
        text = "\r\n\r\n" + seed_text().replace("\n", "\r\n\r\n")
        assert parse_text_layout(text) == parse_text_layout(seed_text())

    def test_missing_contexts(self) -> None:
        text = "T\n2025-01-02 03:04- bullet\nInsights\nbody one\nbody two\n"
        doc = parse_text_layout(text)
        assert doc.body == "body one\n\nbody two"
        assert doc.context == ""

    def test_missing_insights_header_puts_text_in_body(self) -> None:
        doc = parse_text_layout("T\n2025-01-02 03:04- bullet\nplain paragraph\n")
        assert doc.summary == ["bullet"]
        assert doc.body == "plain paragraph"

    def test_no_bullets(self) -> None:
        doc = parse_text_layout("T\n2025-01-02 03:04\nInsights\nbody\n")
        assert doc.summary == []
        assert doc.body == "body"

    def test_seconds_in_timestamp(self) -> None:
        doc = parse_text_layout("T\n2025-01-02 03:04:05- b\n")
        assert doc.published == datetime(2025, 1, 2, 3, 4, 5)


class TestRejections:
    """Input that is not the layout raises a ParseError with a reason code, never else."""

    @pytest.mark.parametrize(
        ("text", "reason"),
        [
            ("", "unparseable_payload"),
            ("only a title\n", "unparseable_payload"),
            ("Title\nnot a date line\n", "unparseable_payload"),
            ("Title\n2025-13-45 10:00- bullet\n", "invalid_timestamp"),
            ("Title\n2025-01-01 10:00\nContexts\nonly context\n", "empty_article"),
        ],
    )
    def test_reason(self, text: str, reason: str) -> None:
        with pytest.raises(ParseError) as caught:
            parse_text_layout(text)
        assert caught.value.reason == reason
        assert caught.value.detail
