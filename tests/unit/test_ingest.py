"""ingest's pure parts: canonical URLs, stable ids, raw event → Article, and the worker step."""

from datetime import UTC, datetime

import pytest

from schemas.article import Article
from services.ingest.ids import article_id, canonical_url
from services.ingest.settings import IngestSettings
from services.ingest.step import build_worker
from services.runtime import dlq
from services.runtime.errors import InvalidMessage
from services.runtime.worker import InputRecord, process_record
from tests.helpers import FIXTURES, raw_event, seed_text


class TestCanonicalUrl:
    def test_normalises_case_port_fragment_tracking_and_query_order(self) -> None:
        url = "HTTPS://News.Example.COM:443/a/b?utm_source=x&b=2&fbclid=y&a=1#frag"
        assert canonical_url(url) == "https://news.example.com/a/b?a=1&b=2"

    def test_keeps_non_default_port(self) -> None:
        assert canonical_url("http://example.com:8080") == "http://example.com:8080/"

    @pytest.mark.parametrize(
        "url", ["javascript:alert(1)", "ftp://example.com/x", "https://user:pw@example.com/"]
    )
    def test_rejects(self, url: str) -> None:
        with pytest.raises(InvalidMessage) as caught:
            canonical_url(url)
        assert caught.value.reason == "invalid_url"


class TestArticleId:
    """The id is a function of the canonical URL, or of source, title and time without one."""

    def test_same_url_same_id_whatever_the_tracking(self) -> None:
        when = datetime(2025, 1, 1, tzinfo=UTC)
        a = article_id(
            url=canonical_url("https://x.org/a?utm_medium=m"),
            source="s",
            title="A",
            published_at=when,
        )
        b = article_id(
            url=canonical_url("https://X.org/a#top"), source="t", title="B", published_at=when
        )
        assert a == b
        assert len(a) == 32

    def test_without_url_depends_on_content(self) -> None:
        when = datetime(2025, 1, 1, tzinfo=UTC)
        one = article_id(url=None, source="s", title="A", published_at=when)
        assert one == article_id(url=None, source="s", title="A", published_at=when)
        assert one != article_id(url=None, source="s", title="B", published_at=when)


def _record(value: bytes | None, key: bytes | None = b"k", offset: int = 41) -> InputRecord:
    return InputRecord("news.raw", 2, offset, 1_700_000_000_000, key, value, [("trace", b"t1")])


class TestIngestStep:
    """The worker step through the runtime's process_record: outputs or one dead letter."""

    async def test_good_event_becomes_one_article_keyed_by_id(self) -> None:
        worker = build_worker(IngestSettings())
        value = raw_event(seed_text()).model_dump_json().encode()
        result = await process_record(worker, _record(value))
        assert result.outcome == "ok"
        [out, seen] = result.records
        article = Article.model_validate_json(out.value or b"")
        assert out.topic == "news.articles"
        assert out.key == article.article_id.encode()
        assert seen.topic == "news.ingest.dedup"  # the dedup changelog, produced with the batch
        assert seen.key == article.article_id.encode()

    async def test_garbage_bytes_go_to_the_dlq_unchanged(self) -> None:
        worker = build_worker(IngestSettings())
        garbage = b"\xff\xfe not json at all"
        result = await process_record(worker, _record(garbage))
        assert result.outcome == "dead_letter"
        [dead] = result.records
        assert dead.topic == "news.raw.dlq"
        assert dead.value == garbage
        assert dead.key == b"k"
        headers = dlq.header_map(dead.headers)
        assert headers[dlq.REASON] == "invalid_envelope"
        assert headers[dlq.ORIGINAL_TOPIC] == "news.raw"
        assert headers[dlq.ORIGINAL_PARTITION] == "2"
        assert headers[dlq.ORIGINAL_OFFSET] == "41"
        assert headers[dlq.STAGE] == "ingest"
        assert headers["trace"] == "t1"

    async def test_unparseable_payload_has_its_own_reason(self) -> None:
        worker = build_worker(IngestSettings())
        value = raw_event("no layout here").model_dump_json().encode()
        result = await process_record(worker, _record(value))
        assert result.reason == "unparseable_payload"
        assert result.records[0].value == value

    async def test_tombstone_is_dead_lettered(self) -> None:
        result = await process_record(build_worker(IngestSettings()), _record(None))
        assert result.reason == "empty_value"


class TestIngestStepDedupAndPartialFailures:
    """Duplicates are dropped with a reason; a feed's bad items dead-letter the event while
    its good items go out; oversize records never reach a parser."""

    async def test_resent_article_is_dropped_as_duplicate(self) -> None:
        worker = build_worker(IngestSettings())
        value = raw_event(seed_text(), url="https://example.com/a").model_dump_json().encode()
        first = await process_record(worker, _record(value, offset=1))
        again = await process_record(worker, _record(value, offset=2))
        assert first.outcome == "ok"
        assert again.outcome == "dropped"
        assert again.records == []
        assert again.drops == ("duplicate_url",)

    async def test_replayed_position_is_emitted_again(self) -> None:
        worker = build_worker(IngestSettings())
        value = raw_event(seed_text()).model_dump_json().encode()
        await process_record(worker, _record(value, offset=5))
        replay = await process_record(worker, _record(value, offset=5))
        assert replay.outcome == "ok"
        assert replay.records[0].topic == "news.articles"

    async def test_feed_with_a_bad_item(self) -> None:
        worker = build_worker(IngestSettings())
        feed = (FIXTURES / "feed" / "rss-bad-item.xml").read_text()
        value = raw_event(feed, content_type="application/rss+xml").model_dump_json().encode()
        result = await process_record(worker, _record(value))
        assert result.outcome == "dead_letter"
        assert result.reason == "items_rejected"
        topics = [r.topic for r in result.records]
        assert topics.count("news.articles") == 1
        assert topics[-1] == "news.raw.dlq"
        assert dlq.header_map(result.records[-1].headers)[dlq.REASON] == "items_rejected"
        assert result.records[-1].value == value

    async def test_oversize_record_goes_to_the_dlq_unparsed(self) -> None:
        worker = build_worker(IngestSettings())
        value = raw_event("x" * 3000).model_dump_json().encode()
        result = await process_record(worker, _record(value), max_bytes=2048)
        assert result.reason == "record_too_large"
        assert result.records[0].value == value
