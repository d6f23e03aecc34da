"""Duplicate detection: the same canonical URL, or the same content, within a window.

Each kept article is one row of a :class:`ChangelogTable` on ``news.ingest.dedup``
(compacted), keyed by article id and listing its dedup keys (URL and content), so the state
survives restarts and is shared by every ingest worker; a key → article lookup is derived in
memory as rows arrive. One row per article, not one per key, halves the changelog writes and
the rows every worker reads back. Pure logic; the table does the I/O.

A replay is not a duplicate: after a crash the uncommitted tail of ``news.raw`` is read again,
and its records find their own earlier entries. An entry remembers the raw position that made
it; seeing that same position again means "my own earlier attempt", so the article is emitted
again (at-least-once) instead of being lost.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from services.runtime.clock import wall_clock_ms
from services.runtime.table import ChangelogTable
from services.runtime.worker import OutRecord

# json.dumps(separators=...) builds a new encoder per call (~40 % of a row's encoding here).
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))


@dataclass(frozen=True)
class SeenEntry:
    article_id: str
    partition: int
    offset: int
    seen_at_ms: int
    keys: tuple[str, ...] = ()

    def encode(self) -> bytes:
        return _COMPACT_JSON.encode(
            {
                "a": self.article_id,
                "p": self.partition,
                "o": self.offset,
                "t": self.seen_at_ms,
                "k": list(self.keys),
            }
        ).encode()

    @staticmethod
    def decode(data: bytes) -> "SeenEntry":
        try:
            d = json.loads(data)
            keys = tuple(str(k) for k in d["k"])
            return SeenEntry(str(d["a"]), int(d["p"]), int(d["o"]), int(d["t"]), keys)
        except (KeyError, TypeError, json.JSONDecodeError) as exc:
            raise ValueError(f"not a dedup entry: {exc}") from exc


class Verdict(StrEnum):
    NEW = "new"
    REPLAY = "replay"
    DUPLICATE_URL = "duplicate_url"
    DUPLICATE_CONTENT = "duplicate_content"


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


class Identified(Protocol):
    """What dedup reads of an article (an Article, or the step pool's encoded one)."""

    @property
    def article_id(self) -> str: ...
    @property
    def url(self) -> str | None: ...
    @property
    def content_hash(self) -> str: ...


def dedup_keys(article: Identified) -> list[tuple[Verdict, str]]:
    keys = []
    if article.url:
        keys.append((Verdict.DUPLICATE_URL, "url:" + _digest(article.url)))
    if article.content_hash:
        keys.append((Verdict.DUPLICATE_CONTENT, "content:" + article.content_hash))
    return keys


class Deduplicator:
    def __init__(self, table: ChangelogTable[SeenEntry], window_ms: int) -> None:
        self.table = table
        self.window_ms = window_ms
        self._by_key: dict[str, str] = {}  # dedup key → article id, derived from the rows
        table.on_change = self._changed
        for article_id, entry in table.data.items():
            self._changed(article_id, None, entry)

    def _changed(self, article_id: str, old: SeenEntry | None, new: SeenEntry | None) -> None:
        for key in old.keys if old else ():
            if self._by_key.get(key) == article_id:
                del self._by_key[key]
        for key in new.keys if new else ():
            self._by_key[key] = article_id

    def _entry(self, key: str) -> SeenEntry | None:
        article_id = self._by_key.get(key)
        return self.table.get(article_id) if article_id is not None else None

    def verdict(
        self, article: Identified, position: tuple[int, int], now_ms: int, claimed: set[str]
    ) -> Verdict:
        """``claimed``: keys already taken by earlier articles of the same raw record (a feed
        listing one story twice is a duplicate, not a replay)."""
        for kind, key in dedup_keys(article):
            if key in claimed:
                return kind
            entry = self._entry(key)
            if entry is None or now_ms - entry.seen_at_ms > self.window_ms:
                continue
            if (
                entry.partition,
                entry.offset,
            ) == position and entry.article_id == article.article_id:
                return Verdict.REPLAY
            return kind
        return Verdict.NEW

    def duplicate_of(self, article: Identified, now_ms: int, claimed: set[str]) -> str | None:
        """The id of the article this one repeats within the window, or None (offline use)."""
        for _, key in dedup_keys(article):
            entry = self._entry(key)
            if entry is not None and (
                key in claimed or now_ms - entry.seen_at_ms <= self.window_ms
            ):
                return entry.article_id
        return None

    def remember(
        self, article: Identified, position: tuple[int, int], now_ms: int, claimed: set[str]
    ) -> list[OutRecord]:
        """Records the article and its keys; returns the changelog record to produce."""
        keys = tuple(key for _, key in dedup_keys(article))
        claimed.update(keys)
        entry = SeenEntry(article.article_id, position[0], position[1], now_ms, keys)
        return [self.table.put(article.article_id, entry)]


def dedup_table(
    topic: str, window_ms: int, clock_ms: Callable[[], int] = wall_clock_ms
) -> ChangelogTable[SeenEntry]:
    """The seen-articles table; rows older than the window are not restored."""
    return ChangelogTable(
        topic,
        encode=SeenEntry.encode,
        decode=SeenEntry.decode,
        keep=lambda e: clock_ms() - e.seen_at_ms <= window_ms,
    )
