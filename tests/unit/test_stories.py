"""Story clustering: rewrites of one event share a story; state restores from its changelog."""

import pytest

from schemas.article import Article
from services.enrich.stories import (
    MAX_BUCKET,
    StoryEntry,
    StoryIndex,
    content_words,
    jaccard,
    story_table,
)
from services.ingest.normalize import NormalizePolicy, normalize, single_article
from services.query.article import article_document
from tests.helpers import fixture_event, raw_event, sample_text, seed_text

WINDOW = 72 * 3600 * 1000
NOW = 1_800_000_000_000


def index(clock: int = NOW) -> StoryIndex:
    return StoryIndex(story_table("news.enrich.stories", WINDOW, lambda: clock))


SEED = single_article(raw_event(seed_text()))
SEED_AS_HTML = normalize(fixture_event("html/og-article.html"), NormalizePolicy()).articles[0]
HEATWAVE = single_article(raw_event(sample_text("spain-heatwave.txt")))


class TestAssign:
    def test_a_rewrite_joins_the_first_articles_story(self) -> None:
        stories = index()
        first, _, record = stories.assign(SEED, NOW)
        assert first == SEED.article_id
        assert record is not None
        second, sim, _ = stories.assign(SEED_AS_HTML, NOW)
        assert second == SEED.article_id
        assert sim >= stories.threshold

    def test_another_event_starts_its_own_story(self) -> None:
        stories = index()
        stories.assign(SEED, NOW)
        story, _, _ = stories.assign(HEATWAVE, NOW)
        assert story == HEATWAVE.article_id

    def test_a_replay_keeps_its_story_and_writes_nothing(self) -> None:
        stories = index()
        stories.assign(SEED, NOW)
        stories.assign(SEED_AS_HTML, NOW)
        again, _, record = stories.assign(SEED_AS_HTML, NOW + 5)
        assert (again, record) == (SEED.article_id, None)

    def test_every_copy_of_a_big_story_joins_it(self) -> None:
        """Past MAX_BUCKET copies every slot the copies share is over-full; a copy must still
        find the story (skipping over-full buckets made ~700 of 1,000 bench copies start
        stories of their own)."""
        title, rest = seed_text().strip().split("\n", 1)
        stories = index()
        copies = [
            single_article(raw_event(f"{title} (copy #{i})\n{rest}"))
            for i in range(MAX_BUCKET + 150)
        ]
        assigned = {stories.assign(copy, NOW)[0] for copy in copies}
        assert assigned == {copies[0].article_id}


class TestState:
    def test_a_new_worker_restores_stories_from_the_changelog(self) -> None:
        first = index()
        _, _, record = first.assign(SEED, NOW)
        assert record is not None
        restarted = index()
        restarted.table.apply(record.key, record.value)  # what table.start() does
        story, _, _ = restarted.assign(SEED_AS_HTML, NOW + 1000)
        assert story == SEED.article_id

    def test_expired_rows_are_not_restored(self) -> None:
        first = index()
        _, _, record = first.assign(SEED, NOW)
        assert record is not None
        later = index(clock=NOW + WINDOW + 1)
        later.table.apply(record.key, record.value)
        story, _, _ = later.assign(SEED_AS_HTML, NOW + WINDOW + 1)
        assert story == SEED_AS_HTML.article_id

    def test_followed_deletes_leave_the_index(self) -> None:
        stories = index()
        _, _, record = stories.assign(SEED, NOW)
        assert record is not None
        stories.table.apply(record.key, None)  # a tombstone from the topic
        story, _, _ = stories.assign(SEED_AS_HTML, NOW)
        assert story == SEED_AS_HTML.article_id

    def test_beyond_the_cap_the_oldest_articles_leave_table_and_index(self) -> None:
        """A burst inside the window: the table keeps at most ``max_articles`` rows, the
        oldest by time go first (down to 90 % of the cap), and the index forgets them too."""
        stories = StoryIndex(story_table("news.enrich.stories", WINDOW, lambda: NOW, 10))
        stories.assign(SEED, NOW - 1000)  # the oldest, though not the first in the table
        others = [_with(HEATWAVE, article_id=f"h{i}", url=None) for i in range(10)]
        for i, other in enumerate(others):
            stories.assign(other, NOW + i)
        table = stories.table
        assert len(table) == 9  # 11 rows > 10: down to 9, the two oldest dropped
        assert table.get(SEED.article_id) is None
        assert table.get("h0") is None
        assert table.get("h1") is not None
        assert table.dropped == {"expired": 0, "over_cap": 2}
        # The index forgot the seed: its rewrite starts a story of its own now.
        story, _, _ = stories.assign(SEED_AS_HTML, NOW + 20)
        assert story == SEED_AS_HTML.article_id
        with pytest.raises(ValueError, match="max_rows"):
            story_table("t", WINDOW, lambda: NOW, 0)

    @pytest.mark.parametrize("data", [b"{}", b'{"s": "x", "w": ["a"], "t": 0}', b"nope"])
    def test_bad_rows_are_value_errors(self, data: bytes) -> None:
        with pytest.raises(ValueError, match=r"story entry|invalid literal"):
            StoryEntry.decode(data)


def _with(article: Article, **changes: object) -> Article:
    return article.model_copy(update=changes)


_SHORT_BODY = "Kyiv said talks would resume. Officials declined to comment."


@pytest.mark.parametrize(
    "article",
    [
        SEED,
        SEED_AS_HTML,
        HEATWAVE,
        _with(SEED, context=""),  # the document's body field is the body alone
        _with(SEED, body=_SHORT_BODY),  # fewer than 80 body words, then the context's
        _with(SEED, body=_SHORT_BODY, context=""),
        _with(SEED, title="İstanbul talks on Ukraine’s security"),  # folding lengthens "İ"
        # ... and then words() tokenises the joined title and summary before folding, where
        # the summary's own field is folded first: U+0345 turns into a letter when folded.
        _with(SEED, title="İstanbul talks", summary=["a\u0345b split or not"]),
        _with(SEED, summary=["STRASSE ß and ﬁnal terms", "Ukraine's allies"], context=""),
    ],
)
def test_story_words_from_the_document_are_the_article_s(article: Article) -> None:
    """The story lookup reuses the query document's words; they must be the ones it
    tokenises itself."""
    assert content_words(article, article_document(article)) == content_words(article)


def test_jaccard() -> None:
    assert jaccard((1, 2, 3), (1, 2, 3)) == 1.0
    assert jaccard((1, 2), (2, 3)) == 1 / 3
    assert jaccard((), ()) == 0.0


# Assigns stories to the bench corpus's first 1,000 articles (copies of the eval set and of the
# seed: many candidates tie on shared MinHash slots) and prints a digest of the assignments.
_ASSIGN_ALL = """
import hashlib
from bench.enrich import corpus
from services.enrich.stories import StoryIndex, story_table
stories = StoryIndex(story_table("t", 10**12, lambda: 0))
digest = hashlib.sha256()
for article in corpus(1000):
    story, similarity, _ = stories.assign(article, 0)
    digest.update(f"{story} {similarity}\\n".encode())
print(digest.hexdigest())
"""


def test_assignments_do_not_depend_on_string_hashing() -> None:
    """Which of several equal-count candidates are verified must not follow set order, which
    varies with PYTHONHASHSEED (with set buckets, seeds 3 and 4 gave different digests here)."""
    import os
    import subprocess
    import sys

    digests = set()
    for seed in ("3", "4"):
        done = subprocess.run(
            [sys.executable, "-c", _ASSIGN_ALL],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        )
        digests.add(done.stdout.strip())
    assert len(digests) == 1
