"""Story clustering: articles about the same event share a ``story_id``.

An article's signature is a 64-permutation MinHash (rensa) of its content words (title,
summary and the start of the body, case-folded, stopwords removed): rewritten reports of one
event share names, places, numbers and key nouns, while they share few exact word 3-grams.
Candidates come from LSH banding over the signatures (32 bands of 2 rows); a candidate joins
the story when the estimated Jaccard similarity reaches ``threshold``. The story id is the
article id of the story's first article.

State: every article's (story id, signature, time) is a row of a :class:`ChangelogTable` on
the compacted topic ``news.enrich.stories`` keyed by article id, restored at start and
followed, so stories survive restarts and are shared by enrich workers; rows older than the
window are not restored. A replayed article finds its own row and keeps its story.
"""

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import rensa

from schemas.article import Article
from services.enrich.keywords import stopwords
from services.query.text import words
from services.runtime.table import ChangelogTable
from services.runtime.worker import OutRecord

NUM_PERM = 64
BANDS = 32
ROWS = NUM_PERM // BANDS
SEED = 20261125
BODY_WORDS = 150
DEFAULT_THRESHOLD = 0.3
MAX_VERIFIED = 32


@dataclass(frozen=True)
class StoryEntry:
    story_id: str
    signature: tuple[int, ...]
    seen_at_ms: int

    def encode(self) -> bytes:
        return json.dumps(
            {"s": self.story_id, "m": list(self.signature), "t": self.seen_at_ms},
            separators=(",", ":"),
        ).encode()

    @staticmethod
    def decode(data: bytes) -> "StoryEntry":
        try:
            d = json.loads(data)
            signature = tuple(int(x) for x in d["m"])
            if len(signature) != NUM_PERM:
                raise ValueError(f"signature of {len(signature)} values")
            return StoryEntry(str(d["s"]), signature, int(d["t"]))
        except (KeyError, TypeError, json.JSONDecodeError) as exc:
            raise ValueError(f"not a story entry: {exc}") from exc


def content_words(article: Article) -> set[str]:
    stop = stopwords(article.language or "en")
    text = " ".join([article.title, *article.summary])
    body = words(article.body)[:BODY_WORDS]
    return {w for w in [*words(text), *body] if w not in stop and len(w) > 1}


def signature(article: Article) -> tuple[int, ...]:
    minhash = rensa.RMinHash(num_perm=NUM_PERM, seed=SEED)
    minhash.update(sorted(content_words(article)) or [article.title.casefold()])
    return tuple(minhash.digest())


def similarity(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    """Estimated Jaccard similarity: the share of equal MinHash slots."""
    return sum(x == y for x, y in zip(a, b, strict=True)) / NUM_PERM


def _bands(sig: tuple[int, ...]) -> list[tuple[int, tuple[int, ...]]]:
    return [(b, sig[b * ROWS : (b + 1) * ROWS]) for b in range(BANDS)]


class StoryIndex:
    """The LSH index over a story table, kept in step with it (own writes and followed ones)."""

    def __init__(self, table: ChangelogTable[StoryEntry], threshold: float = DEFAULT_THRESHOLD):
        self.table = table
        self.threshold = threshold
        self._buckets: dict[tuple[int, tuple[int, ...]], set[str]] = {}
        table.on_change = self._changed
        for key, entry in table.data.items():
            self._changed(key, None, entry)

    def _changed(self, key: str, old: StoryEntry | None, new: StoryEntry | None) -> None:
        if old is not None:
            for band in _bands(old.signature):
                bucket = self._buckets.get(band)
                if bucket is not None:
                    bucket.discard(key)
                    if not bucket:
                        del self._buckets[band]
        if new is not None:
            for band in _bands(new.signature):
                self._buckets.setdefault(band, set()).add(key)

    def assign(self, article: Article, now_ms: int) -> tuple[str, float, OutRecord | None]:
        """(story id, similarity to it, the changelog record to produce or None)."""
        own = self.table.get(article.article_id)
        if own is not None:
            return own.story_id, 1.0, None  # seen before (a replay): same story
        sig = signature(article)
        shared: Counter[str] = Counter()
        for band in _bands(sig):
            shared.update(self._buckets.get(band, ()))
        # A big story can hold thousands of articles: verify only those sharing the most
        # bands (the likeliest to be similar), so the cost per article stays bounded.
        best_id, best = article.article_id, 0.0
        for key, _ in shared.most_common(MAX_VERIFIED):
            entry = self.table.get(key)
            if entry is None:
                continue
            sim = similarity(sig, entry.signature)
            # Ties go to the older story, so a story keeps the id of its first article.
            if sim > best or (sim == best and sim > 0 and entry.story_id < best_id):
                best_id, best = entry.story_id, sim
        story = best_id if best >= self.threshold else article.article_id
        record = self.table.put(article.article_id, StoryEntry(story, sig, now_ms))
        return story, (best if story != article.article_id else 1.0), record


def story_table(
    topic: str, window_ms: int, clock_ms: Callable[[], int]
) -> ChangelogTable[StoryEntry]:
    return ChangelogTable(
        topic,
        encode=StoryEntry.encode,
        decode=StoryEntry.decode,
        keep=lambda e: clock_ms() - e.seen_at_ms <= window_ms,
    )
