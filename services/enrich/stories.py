"""Story clustering: articles about the same event share a ``story_id``.

An article is described by its content words: title, summary and the first 80 words of the
body, case-folded, stopwords removed. Rewritten reports of one event share names, places,
numbers and key nouns, while they share few exact word 3-grams. A 64-permutation MinHash
(rensa) of those words, banded one row per band, proposes earlier articles as candidates;
the closest are verified by the exact Jaccard similarity of their words, and the article
joins the best one's story at ``threshold`` or more. The story id is the article id of the
story's first article.

State: every article's (story id, word hashes, time) is a row of a :class:`ChangelogTable`
on the compacted topic ``news.enrich.stories`` keyed by article id, restored at start and
followed, so stories survive restarts and are shared by enrich workers; rows older than the
window are not restored. A replayed article finds its own row and keeps its story.
"""

import hashlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter

import rensa

from schemas.article import Article
from services.enrich.keywords import stopwords
from services.query.document import QueryDocument
from services.query.text import words
from services.runtime.table import ChangelogTable
from services.runtime.worker import OutRecord

# 64 permutations: the estimate only proposes and ranks candidates, the threshold is tested
# on the exact Jaccard (StoryIndex), and an article at J = 0.18 shares no slot with a similar
# one with probability 0.82^64 < 1e-5. 128 (standard error 0.034 against 0.048 near 0.18)
# gave the same stories on the eval set and the 3,000-article bench corpus, for ~25 % more
# CPU in story lookup.
NUM_PERM = 64
# One row per band: a candidate is any article sharing a MinHash slot, and the number of
# shared slots, counted while collecting candidates, is the similarity estimate itself.
BANDS = 64
SEED = 20261125
BODY_WORDS = 80
# Chosen on tests/eval/articles.yaml with exact Jaccard over title, summary and 80 body words:
# 0.15 joined related but different stories (pairwise precision 0.30), 0.18 gave precision
# 1.00 and recall 0.67, 0.20 recall 0.42. Rewritten reports share few words.
DEFAULT_THRESHOLD = 0.18
MAX_VERIFIED = 32
# A bucket holding more articles than this is counted by its RECENT latest only. 256 before
# RECENT existed (an over-full bucket was skipped); 64 gives the same stories on the bench
# corpus (3,000 articles) and the eval set for ~15 % less CPU in story lookup; only the
# similarity reported for copies of the 1,000-copy story differs (0.965 against 0.982: another
# near-copy verified).
MAX_BUCKET = 64
# What an over-full bucket contributes: its latest articles (see StoryIndex.assign).
RECENT = 16


@dataclass(frozen=True)
class StoryEntry:
    story_id: str
    words: tuple[int, ...]  # sorted 63-bit hashes of the article's content words
    seen_at_ms: int

    def encode(self) -> bytes:
        return json.dumps(
            {"s": self.story_id, "w": list(self.words), "t": self.seen_at_ms},
            separators=(",", ":"),
        ).encode()

    @staticmethod
    def decode(data: bytes) -> "StoryEntry":
        try:
            d = json.loads(data)
            return StoryEntry(str(d["s"]), tuple(int(x) for x in d["w"]), int(d["t"]))
        except (KeyError, TypeError, json.JSONDecodeError) as exc:
            raise ValueError(f"not a story entry: {exc}") from exc


# Characters of body text that hold BODY_WORDS words in ordinary prose (about 6.5 a word):
# tokenising a prefix instead of the whole body, and the whole body only when it falls short.
_BODY_CHARS = 12 * BODY_WORDS
# Word → hash, across articles: news repeats its vocabulary, and blake2b per word was a third
# of the signature's cost. Cleared when full, so memory stays bounded.
_HASHES: dict[str, int] = {}
_MAX_HASHES = 200_000


def _first_words(body: str, n: int) -> list[str]:
    """``words(body)[:n]`` without tokenising all of a long body."""
    if len(body) > _BODY_CHARS:
        found = words(body[:_BODY_CHARS])
        # With more than n words in the prefix, the n-th cannot have been cut off.
        if len(found) > n:
            return found[:n]
    return words(body)[:n]


def _story_words(article: Article, document: QueryDocument | None) -> list[str]:
    """The folded words of the title, the summary and the body's first BODY_WORDS, taken
    from the article's query document when there is one (same tokeniser, ~30 µs saved).

    Only where that is exact: a word never spans the whitespace between title and summary,
    but where case folding changes a text's length, ``words`` tokenises it before folding
    and the whole text decides that; and with a context section the document's body field
    runs on past the body.
    """
    text = " ".join([article.title, *article.summary])
    if document is None or len(text.casefold()) != len(text):
        return [*words(text), *_first_words(article.body, BODY_WORDS)]
    body_start = document.field_ranges["body"][0]
    if article.context:
        return [*document.words[:body_start], *_first_words(article.body, BODY_WORDS)]
    return document.words[: body_start + BODY_WORDS]


def content_words(article: Article, document: QueryDocument | None = None) -> set[str]:
    """``document``, if given, is ``article_document(article)``."""
    stop = stopwords(article.language or "en")
    return {w for w in _story_words(article, document) if w not in stop and len(w) > 1}


def _hash(word: str) -> int:
    return int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest()) >> 1


def word_hashes(article: Article, document: QueryDocument | None = None) -> tuple[int, ...]:
    found = content_words(article, document) or {article.title.casefold()}
    known = _HASHES
    if len(known) > _MAX_HASHES:
        known.clear()
    out = []
    for w in found:
        h = known.get(w)
        if h is None:
            h = known[w] = _hash(w)
        out.append(h)
    out.sort()
    return tuple(out)


def signature(hashes: tuple[int, ...]) -> tuple[int, ...]:
    minhash = rensa.RMinHash(num_perm=NUM_PERM, seed=SEED)
    minhash.update([str(h) for h in hashes])
    return tuple(minhash.digest())


@dataclass(frozen=True)
class StoryShingles:
    """What the story lookup needs of an article, pure to compute: the hashes of its content
    words, and their MinHash signature."""

    hashes: tuple[int, ...]
    signature: tuple[int, ...]

    @staticmethod
    def of(article: Article, document: QueryDocument | None = None) -> "StoryShingles":
        hashes = word_hashes(article, document)
        return StoryShingles(hashes, signature(hashes))


def jaccard(a: tuple[int, ...] | frozenset[int], b: tuple[int, ...] | frozenset[int]) -> float:
    sa, sb = frozenset(a), frozenset(b)
    shared = len(sa & sb)  # the union's size follows; building it cost as much again
    union = len(sa) + len(sb) - shared
    return shared / union if union else 0.0


Band = tuple[int, int]


def _bands(sig: tuple[int, ...]) -> list[Band]:
    """(band number, slot value): with one row per band a band is one slot."""
    return list(enumerate(sig))


class StoryIndex:
    """The LSH index over a story table, kept in step with it (own writes and followed ones).

    MinHash proposes candidates (any shared slot) and ranks them by shared slots; the best
    ``MAX_VERIFIED`` are verified with the exact Jaccard similarity of their stored word
    hashes, because rewritten reports sit close to the threshold where MinHash's estimate
    is noisy (measured: recall 0.42 with estimates against 0.67 exact, same threshold).
    """

    def __init__(self, table: ChangelogTable[StoryEntry], threshold: float = DEFAULT_THRESHOLD):
        self.table = table
        self.threshold = threshold
        # Lists, in the order articles arrived: candidates with equal counts then rank oldest
        # first whatever the process's string hashing (a set's order varied with
        # PYTHONHASHSEED, and so did which ties made the MAX_VERIFIED cut), and a list
        # iterates faster than a set's sparse table. A key is in a bucket at most once: its
        # old signature leaves before the new one enters.
        self._buckets: dict[Band, list[str]] = {}
        self._signatures: dict[str, tuple[int, ...]] = {}
        self._word_sets: dict[str, frozenset[int]] = {}
        # The signature assign() just computed, so the change it writes need not redo it.
        self._last: tuple[tuple[int, ...], tuple[int, ...]] | None = None
        table.on_change = self._changed
        for key, entry in table.data.items():
            self._changed(key, None, entry)

    def _changed(self, key: str, old: StoryEntry | None, new: StoryEntry | None) -> None:
        previous = self._signatures.pop(key, None)
        self._word_sets.pop(key, None)
        if previous is not None:
            for band in _bands(previous):
                bucket = self._buckets.get(band)
                if bucket is not None and key in bucket:
                    bucket.remove(key)
                    if not bucket:
                        del self._buckets[band]
        if new is not None:
            last = self._last
            sig = last[1] if last is not None and last[0] is new.words else signature(new.words)
            self._signatures[key] = sig
            self._word_sets[key] = frozenset(new.words)
            buckets = self._buckets
            for band in enumerate(sig):
                bucket = buckets.get(band)
                if bucket is None:
                    buckets[band] = [key]
                else:
                    bucket.append(key)

    def assign(
        self,
        article: Article,
        now_ms: int,
        document: QueryDocument | None = None,
        shingles: "StoryShingles | None" = None,
    ) -> tuple[str, float, OutRecord | None]:
        """(story id, similarity to it, the changelog record to produce or None).

        ``document``: ``article_document(article)``, whose words the lookup then reuses.
        ``shingles``: the article's word hashes and MinHash signature, if computed already
        (by enrich's prepare half, in a step pool's child)."""
        own = self.table.get(article.article_id)
        if own is not None:
            return own.story_id, 1.0, None  # seen before (a replay): same story
        if shingles is None:
            shingles = StoryShingles.of(article, document)
        hashes, sig = shingles.hashes, shingles.signature
        words_here = frozenset(hashes)
        self._last = (hashes, sig)
        buckets = self._buckets
        found = [buckets.get(band, ()) for band in enumerate(sig)]
        # A slot value held by very many articles is a very common word winning that
        # permutation, or a story of hundreds of near-copies: counting all of it costs a lot,
        # so an over-full bucket gives only its RECENT latest articles. Skipping it entirely
        # left a copy of a big story without candidates once all its slots were over-full,
        # and it started a story of its own (measured on the bench corpus: from the ~280th
        # copy of its seed story on, ~700 of 1,000 copies did). All buckets counted in one
        # call, in band order, so ties rank in first-counted order.
        shared: Counter[str] = Counter(
            chain.from_iterable(b if len(b) <= MAX_BUCKET else b[-RECENT:] for b in found)
        )
        # A big story can hold thousands of articles: verify only those sharing the most
        # slots (the likeliest to be similar), so the cost per article stays bounded.
        best_id, best = article.article_id, 0.0
        # sorted, not most_common: the same order (most_common is documented as this sort,
        # ties in first-counted order) without heapq's Python loop over every candidate.
        ranked = sorted(shared.items(), key=itemgetter(1), reverse=True)[:MAX_VERIFIED]
        for key, _ in ranked:
            entry = self.table.get(key)
            known = self._word_sets.get(key)
            if entry is None or known is None:
                continue
            sim = jaccard(words_here, known)
            # Ties go to the older story, so a story keeps the id of its first article.
            if sim > best or (sim == best and sim > 0 and entry.story_id < best_id):
                best_id, best = entry.story_id, sim
        story = best_id if best >= self.threshold else article.article_id
        record = self.table.put(article.article_id, StoryEntry(story, hashes, now_ms))
        return story, (best if story != article.article_id else 1.0), record


def story_table(
    topic: str, window_ms: int, clock_ms: Callable[[], int], max_articles: int | None = None
) -> ChangelogTable[StoryEntry]:
    """Rows older than ``window_ms`` expire; beyond ``max_articles`` the oldest go first."""
    return ChangelogTable(
        topic,
        encode=StoryEntry.encode,
        decode=StoryEntry.decode,
        keep=lambda e: clock_ms() - e.seen_at_ms <= window_ms,
        max_rows=max_articles,
        age=lambda e: e.seen_at_ms,
    )
