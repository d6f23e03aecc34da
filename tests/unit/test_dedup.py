"""Dedup decisions: URL and content keys, the window, replays after a crash, feeds."""

import json

import pytest

from services.ingest.dedup import Deduplicator, SeenEntry, Verdict, dedup_keys, dedup_table
from services.ingest.normalize import single_article
from tests.helpers import raw_event

WINDOW = 7 * 24 * 3600 * 1000
NOW = 1_800_000_000_000


def article(title: str = "A title", body: str = "Body.", url: str | None = None):  # type: ignore[no-untyped-def]
    return single_article(raw_event(json.dumps({"title": title, "body": body, "url": url})))


def fresh() -> Deduplicator:
    return Deduplicator(dedup_table("news.ingest.dedup", WINDOW, lambda: NOW), WINDOW)


class TestVerdicts:
    def test_first_time_is_new_then_url_duplicate(self) -> None:
        d = fresh()
        a = article(url="https://x.example/a")
        assert d.verdict(a, (0, 1), NOW, set()) is Verdict.NEW
        d.remember(a, (0, 1), NOW, set())
        again = article(body="Edited body.", url="https://x.example/a?utm_source=tw")
        assert d.verdict(again, (2, 9), NOW, set()) is Verdict.DUPLICATE_URL

    def test_same_content_under_another_url(self) -> None:
        d = fresh()
        d.remember(article(url="https://a.example/1"), (0, 1), NOW, set())
        syndicated = article(url="https://b.example/copy")
        assert d.verdict(syndicated, (1, 5), NOW, set()) is Verdict.DUPLICATE_CONTENT

    def test_outside_the_window_is_new_again(self) -> None:
        d = fresh()
        a = article(url="https://x.example/a")
        d.remember(a, (0, 1), NOW - WINDOW - 1, set())
        assert d.verdict(a, (0, 7), NOW, set()) is Verdict.NEW

    def test_the_same_raw_position_is_a_replay_not_a_duplicate(self) -> None:
        """After a crash the uncommitted tail is re-read; it must be emitted again, not lost."""
        d = fresh()
        a = article(url="https://x.example/a")
        d.remember(a, (1, 42), NOW, set())
        assert d.verdict(a, (1, 42), NOW, set()) is Verdict.REPLAY
        assert d.verdict(a, (1, 43), NOW, set()) is Verdict.DUPLICATE_URL

    def test_a_feed_listing_a_story_twice_is_a_duplicate_within_the_record(self) -> None:
        d = fresh()
        a = article(url="https://x.example/a")
        claimed: set[str] = set()
        d.remember(a, (0, 3), NOW, claimed)
        assert d.verdict(a, (0, 3), NOW, claimed) is Verdict.DUPLICATE_URL

    def test_remember_writes_one_row_per_article_with_its_keys(self) -> None:
        d = fresh()
        a = article(url="https://x.example/a")
        [record] = d.remember(a, (2, 8), NOW, set())
        assert record.topic == "news.ingest.dedup"
        assert record.key == a.article_id.encode()
        keys = tuple(k for _, k in dedup_keys(a))
        assert len(keys) == 2
        assert SeenEntry.decode(record.value or b"") == SeenEntry(a.article_id, 2, 8, NOW, keys)

    def test_a_restored_row_answers_for_both_of_its_keys(self) -> None:
        first = fresh()
        a = article(url="https://x.example/a")
        [record] = first.remember(a, (0, 1), NOW, set())
        restarted = fresh()
        restarted.table.apply(record.key, record.value)  # what table.start() does
        same_url = article(body="Other text.", url="https://x.example/a")
        same_text = article(url="https://y.example/copy")
        assert restarted.verdict(same_url, (0, 9), NOW, set()) is Verdict.DUPLICATE_URL
        assert restarted.verdict(same_text, (0, 9), NOW, set()) is Verdict.DUPLICATE_CONTENT


class TestTable:
    def test_restore_skips_expired_and_applies_tombstones(self) -> None:
        table = dedup_table("t", WINDOW, lambda: NOW)
        table.apply(b"k1", SeenEntry("a" * 32, 0, 1, NOW, ("url:x",)).encode())
        table.apply(b"k2", SeenEntry("b" * 32, 0, 2, NOW - WINDOW - 5, ("url:y",)).encode())
        table.apply(b"k3", SeenEntry("c" * 32, 0, 3, NOW, ("url:z",)).encode())
        table.apply(b"k3", None)
        table.apply(b"k4", b"garbage")
        assert set(table.data) == {"k1"}

    def test_prune_drops_what_expired_since(self) -> None:
        clock = [NOW]
        table = dedup_table("t", WINDOW, lambda: clock[0])
        table.put("k", SeenEntry("a" * 32, 0, 1, NOW))
        clock[0] = NOW + WINDOW + 1
        assert table.prune() == 1
        assert len(table) == 0

    @pytest.mark.parametrize(
        "data", [b"{}", b"[]", b'{"a": 1}', b"not json", b'{"a": "x", "p": 0, "o": 0, "t": 0}']
    )
    def test_entry_decode_errors_are_value_errors(self, data: bytes) -> None:
        with pytest.raises(ValueError, match="not a dedup entry"):
            SeenEntry.decode(data)


def test_a_running_table_prunes_expired_values_as_it_goes() -> None:
    """Expired rows leave the local copy while the worker runs, not only at the next restore."""
    from services.runtime.table import PRUNE_EVERY

    clock = [NOW]
    table = dedup_table("t", WINDOW, lambda: clock[0])
    table.put("old", SeenEntry("a" * 32, 0, 0, NOW))
    clock[0] = NOW + WINDOW + 1
    for i in range(PRUNE_EVERY):
        table.put(f"k{i}", SeenEntry("b" * 32, 0, i, clock[0]))
    assert table.get("old") is None
    assert len(table) == PRUNE_EVERY
