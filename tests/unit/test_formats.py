"""Every scraper format, on the fixtures under tests/fixtures/: what each parser extracts."""

from datetime import UTC, datetime

import pytest

from services.ingest.normalize import Normalized, NormalizePolicy, normalize
from services.ingest.parse import ParseError
from services.ingest.parse.sniff import Format, sniff
from tests.helpers import fixture_event, raw_event

POLICY = NormalizePolicy()


def parsed(relative: str) -> Normalized:
    return normalize(fixture_event(relative), POLICY)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


class TestTextLayoutVariants:
    @pytest.mark.parametrize(
        ("name", "bullets", "body_start", "context_start"),
        [
            ("missing-insights.txt", 2, "The crossing near Dorohusk", "Queues at the border"),
            ("missing-contexts.txt", 1, "Air traffic controllers", ""),
            ("no-bullets.txt", 0, "South Korea's semiconductor", ""),
            (
                "extra-blank-lines.txt",
                2,
                "The rally was broad.\n\nTech led the gains.",
                "The central",
            ),
        ],
    )
    def test_sections(self, name: str, bullets: int, body_start: str, context_start: str) -> None:
        [a] = parsed(f"text/{name}").articles
        assert len(a.summary) == bullets
        assert a.body.startswith(body_start)
        assert a.context.startswith(context_start)
        assert a.format == "text"

    def test_extra_whitespace_collapsed(self) -> None:
        [a] = parsed("text/extra-blank-lines.txt").articles
        assert a.summary == ["Stocks closed higher.", "Bond yields fell."]
        assert a.published_at == utc(2025, 2, 13, 18, 45)


class TestJson:
    def test_basic_fields_offsets_and_nested_source(self) -> None:
        [a] = parsed("json/basic.json").articles
        assert a.title == "Nordic ministers pledge more support for Ukraine"
        assert a.published_at == utc(2025, 2, 17, 9, 30)  # +01:00 read as such
        assert a.authors == ["Ingrid Berg", "Mats Lund"]
        assert a.publisher == "Nordic Wire"
        assert a.url == "https://nordic.example/news/ministers?id=42"
        assert a.summary == [
            "Ministers met in Oslo.",
            "Air defence deliveries will be coordinated.",
        ]
        assert a.body.split("\n\n")[1].startswith("They agreed")
        assert a.format == "json"

    def test_wordpress_rendered_fields_and_naive_date(self) -> None:
        [a] = parsed("json/wordpress.json").articles
        assert a.title == "Harbour expansion approved – work starts in May"
        assert (
            a.body
            == "The city council approved the harbour expansion.\n\nConstruction starts in May."
        )
        assert a.summary == ["The council voted 31 to 12."]
        assert a.published_at == utc(2025, 2, 18, 9, 0)
        assert a.authors == ["Port desk"]

    def test_list_payload_is_one_article_each(self) -> None:
        drought, inquiry = parsed("json/newsapi-list.json").articles
        assert drought.published_at == utc(2025, 2, 19, 7, 45)
        assert drought.publisher == "Globe Daily"
        assert drought.authors == ["Ana Ruiz"]
        assert drought.body.startswith("Catalonia's government")
        assert drought.summary == ["Authorities cut water use limits for farms and households."]
        assert inquiry.body == "The inquiry will look at commission rates."
        assert inquiry.authors == []
        assert drought.article_id != inquiry.article_id

    @pytest.mark.parametrize(
        ("name", "when"),
        [
            ("epoch-ms.json", utc(2025, 2, 20, 9, 45)),
            ("epoch-s.json", utc(2025, 2, 21, 9, 45)),
            ("rfc2822.json", utc(2025, 2, 21, 16, 20)),
        ],
    )
    def test_timestamp_forms(self, name: str, when: datetime) -> None:
        [a] = parsed(f"json/{name}").articles
        assert a.published_at == when

    def test_author_object_and_byline(self) -> None:
        assert parsed("json/epoch-s.json").articles[0].authors == ["Commodities team"]
        assert parsed("json/epoch-ms.json").articles[0].authors == ["Commodities team"]

    def test_bad_items_are_errors_next_to_good_articles(self) -> None:
        result = parsed("json/one-bad-item.json")
        assert [a.title for a in result.articles] == ["Valid item"]
        assert [e.reason for e in result.errors] == ["missing_title", "invalid_json"]


class TestHtml:
    def test_open_graph_page_without_boilerplate(self) -> None:
        [a] = parsed("html/og-article.html").articles
        assert a.title == "Starmer meets Trump in critical talks over Ukraine security guarantees"
        assert a.url == "https://news.example.com/world/starmer-trump"
        assert a.published_at == utc(2025, 3, 1, 23, 24)
        assert a.authors == ["Jane Reporter"]
        assert a.publisher == "Example News"
        assert a.body.startswith("Sir Keir Starmer visited Washington")
        for boilerplate in (
            "Home",
            "Buy now",
            "Most read",
            "fake news",
            "Copyright",
            "injected",
            "tracking",
            "By Jane Reporter",
        ):
            assert boilerplate not in a.body, boilerplate
        assert a.format == "html"

    def test_meta_tags_first_in_document_order_blank_falls_to_the_next_name(self) -> None:
        # The rules parse_html followed with one CSS query per name, now read from one walk
        # over the <meta> tags: a name's first tag (property= or name=, document order)
        # decides; a blank one passes to the next name, not to a later tag of the same name;
        # values match case-sensitively.
        page = """<html lang="en"><head>
<meta property="og:title" content="  "><meta property="og:title" content="Later og title">
<meta name="twitter:title" content="Twitter title">
<meta name="Author" content="Wrong Case"><meta name="byl" content="By Line">
<meta name="description" content="Name first"><meta property="description" content="Second">
<meta name="og:site_name" property="og:url" content="https://site.example/a">
</head><body><article><p>Body text of the page, long enough to be kept as the main
text by the extractor, with a second sentence for good measure.</p></article>
<meta property="og:site_name" content="Body Site"></body></html>"""
        [a] = normalize(raw_event(page, content_type="text/html"), POLICY).articles
        assert a.title == "Twitter title"
        assert a.authors == ["By Line"]
        assert a.summary == ["Name first"]
        assert a.url == "https://site.example/a"
        assert a.publisher == "https://site.example/a"  # og:site_name's first tag is that one

    def test_json_ld_graph_gives_date_url_author_publisher(self) -> None:
        [a] = parsed("html/jsonld-graph.html").articles
        assert a.title == "Bundestag debattiert über den Haushalt 2025"
        assert a.published_at == utc(2025, 2, 20, 13, 5)
        assert a.url == "https://zeitung.example/politik/haushalt"
        assert a.authors == ["Klara Schmidt"]
        assert a.publisher == "Beispiel Zeitung"
        assert a.language == "de"
        assert "Cookies" not in a.body
        assert "Impressum" not in a.body

    def test_page_without_metadata_is_flagged_not_dropped(self) -> None:
        [a] = parsed("html/minimal.html").articles
        assert a.title == "Local library reopens after renovation"
        assert "published_at_missing" in a.flags
        assert a.published_at == fixture_event("html/minimal.html").fetched_at

    def test_hostile_page_leaves_no_script(self) -> None:
        [a] = parsed("html/hostile.html").articles
        text = " ".join([a.title, a.body, *a.summary])
        for bad in ("script", "alert", "document.cookie", "steal", "evil.example", "display:none"):
            assert bad not in text, bad
        assert a.title == "Council votes on budget"
        assert a.url is None
        assert "url_invalid_ignored" in a.flags  # javascript: canonical link refused


class TestFeeds:
    def test_rss_items_each_become_an_article(self) -> None:
        result = parsed("feed/rss2.xml")
        ukraine, storm, markets = result.articles
        assert ukraine.url == "https://worlddesk.example/ukraine-london"
        assert ukraine.published_at == utc(2025, 3, 2, 10, 0)
        assert ukraine.authors == ["Sam Hale"]
        assert ukraine.publisher == "World Desk"
        assert ukraine.body == (
            "European leaders met in London on Sunday to discuss security guarantees for Ukraine."
            "\n\nThe talks follow a tense meeting in Washington."
        )
        assert ukraine.summary == ["Leaders gathered in London to discuss security guarantees."]
        assert storm.body == "Power cuts hit thousands of homes."
        assert "published_at_missing" in markets.flags  # "not a date at all"
        assert len({a.article_id for a in result.articles}) == 3
        assert result.errors == []

    def test_atom_entries(self) -> None:
        garanties, bourse = parsed("feed/atom.xml").articles
        assert garanties.published_at == utc(2025, 3, 3, 7, 0)
        assert garanties.authors == ["Claire Dubois"]
        assert garanties.language == "fr"
        assert garanties.body.startswith("Les ministres des affaires étrangères")
        assert bourse.published_at == utc(2025, 3, 3, 16, 45)  # falls back to <updated>
        assert bourse.body == "Le CAC 40 a gagné 1,2 % lundi."

    def test_bad_item_is_an_error_next_to_good_ones(self) -> None:
        result = parsed("feed/rss-bad-item.xml")
        assert [a.title for a in result.articles] == ["Good item"]
        assert [e.reason for e in result.errors] == ["missing_title"]

    @pytest.mark.parametrize("name", ["billion-laughs.xml", "xxe.xml"])
    def test_entity_attacks_rejected(self, name: str) -> None:
        with pytest.raises(ParseError) as caught:
            parsed(f"feed/{name}")
        assert caught.value.reason == "unsafe_xml"


class TestSniffing:
    @pytest.mark.parametrize(
        ("content_type", "text", "expected"),
        [
            ("text/plain", '{"title": "x"}', Format.JSON),
            ("application/json", "Title\n2025-01-01 00:00- x", Format.TEXT),
            ("text/plain", "<!doctype html><html></html>", Format.HTML),
            ("text/html", '<?xml version="1.0"?><rss version="2.0"></rss>', Format.FEED),
            ("application/octet-stream", "\ufeff  <feed xmlns='x'>", Format.FEED),
            ("application/xhtml+xml", '<?xml version="1.0"?><div/>', Format.HTML),
            ("application/xml", '<?xml version="1.0"?><div/>', Format.FEED),
        ],
    )
    def test_content_decides_hint_breaks_ties(
        self, content_type: str, text: str, expected: Format
    ) -> None:
        assert sniff(content_type, text) is expected
