"""Keyphrases: RAKE's candidates (Rose et al., 2010: runs of words between stopwords and
punctuation), ranked by how often their words occur rather than by RAKE's degree score,
which favours long one-off phrases ("starmer refuted claims surrounding" over "ukraine").

Every 1-3 word window of a candidate run is a candidate; its score is its count times the
mean frequency of its words, multi-word phrases weighted 1.5, title occurrences counted
twice. A phrase that never occurs outside one longer candidate ("european central" inside
"european central bank") is dropped in its favour.

YAKE (the yake package) gave comparable phrases but took 9 ms an article here, against a
budget of 1 ms for all of enrich; the stopword lists come from the stop-words package, which
ships them for every language newswire supports.
"""

import re
from collections import Counter
from functools import lru_cache
from itertools import chain, pairwise

from stop_words import get_stop_words

from schemas.article import Article
from schemas.enriched import Keyword

_LANGUAGES = {
    "en": "english",
    "de": "german",
    "fr": "french",
    "es": "spanish",
    "it": "italian",
    "pl": "polish",
    "uk": "ukrainian",
    "ru": "russian",
    "nl": "dutch",
    "pt": "portuguese",
}
TOP = 10


@lru_cache(maxsize=16)
def stopwords(language: str) -> frozenset[str]:
    return frozenset(w.casefold() for w in get_stop_words(_LANGUAGES.get(language, "english")))


# RAKE's runs break at punctuation and at a dash between spaces, and words are runs of
# letters, digits, apostrophes and hyphens. One scan finds both in text order: separators
# (group 1) and words (group 2). A word never holds a separator's first character, so this
# splits exactly where splitting at separators and then finding words in each chunk did.
_TOKENS = re.compile(r"([^\w\s'’-]+|\s[-–—]\s)|([\w'’-]+)")
# In ASCII text the same tokens come from C string methods, three times faster than the
# scan: punctuation becomes a separate "|" token and whitespace splits. A dash between
# spaces is then a token of its own that folds to "" and breaks the run like a separator.
_BREAK = "|"
_ASCII_PUNCTUATION = str.maketrans(
    {c: _BREAK for c in map(chr, range(128)) if not (c.isalnum() or c.isspace() or c in "_'-")}
)
# Token as written → its folded word, or "" where a run breaks (stopword, number, one letter),
# per stopword list. News repeats its vocabulary; cleared when full so memory stays bounded.
_FOLDED: dict[frozenset[str], dict[str, str]] = {}
_MAX_FOLDED = 100_000


def _tokens(text: str) -> list[str]:
    """Words as written and ``_BREAK`` for each separator, in text order."""
    if text.isascii():
        return text.translate(_ASCII_PUNCTUATION).replace(_BREAK, " | ").split()
    return [word or _BREAK for _, word in _TOKENS.findall(text)]


def _fold(raw: str, stop: frozenset[str]) -> str:
    word = raw.casefold().strip("'’-")
    if not word or word in stop or word.isdigit() or len(word) < 2:
        return ""
    return word


def _phrases(text: str, stop: frozenset[str]) -> list[list[str]]:
    folded = _FOLDED.get(stop)
    if folded is None or len(folded) > _MAX_FOLDED:
        folded = _FOLDED[stop] = {}
    out: list[list[str]] = []
    current: list[str] = []
    for raw in _tokens(text):
        word = "" if raw == _BREAK else folded.get(raw)
        if word is None:
            word = folded[raw] = _fold(raw, stop)
        if word:
            current.append(word)
        elif current:
            out.append(current)
            current = []
    if current:
        out.append(current)
    return out


def _pairs(runs: list[list[str]]) -> list[tuple[str, str]]:
    return [pair for run in runs for pair in pairwise(run)]


def _triples(runs: list[list[str]]) -> list[tuple[str, str, str]]:
    return [t for run in runs if len(run) > 2 for t in zip(run, run[1:], run[2:], strict=False)]


def keywords(article: Article, top: int = TOP) -> list[Keyword]:
    stop = stopwords(article.language or "en")
    title = _phrases(article.title, stop)
    body = _phrases("\n".join([*article.summary, article.body]), stop)
    # Candidates of one, two and three words, counted apart (title occurrences twice).
    singles: Counter[str] = Counter(chain.from_iterable(title * 2 + body))
    pairs: Counter[tuple[str, str]] = Counter(_pairs(title) * 2 + _pairs(body))
    triples: Counter[tuple[str, str, str]] = Counter(_triples(title) * 2 + _triples(body))
    # Closed phrases only: drop one whose every occurrence is inside a longer candidate.
    in_pairs: dict[str, int] = {}
    for (a, b), seen in pairs.items():
        if in_pairs.get(a, 0) < seen:
            in_pairs[a] = seen
        if in_pairs.get(b, 0) < seen:
            in_pairs[b] = seen
    in_triples: dict[tuple[str, str], int] = {}
    for (a, b, c), seen in triples.items():
        if in_triples.get((a, b), 0) < seen:
            in_triples[a, b] = seen
        if in_triples.get((b, c), 0) < seen:
            in_triples[b, c] = seen
    # A phrase's score is its count times the mean count of its words, multi-word ones x1.5
    # (the operations in the order the one-loop version used, so the floats are the same).
    scores = {w: seen * seen / 1 * 1.0 for w, seen in singles.items() if in_pairs.get(w, 0) < seen}
    scores.update(
        (f"{a} {b}", seen * (singles[a] + singles[b]) / 2 * 1.5)
        for (a, b), seen in pairs.items()
        if in_triples.get((a, b), 0) < seen
    )
    scores.update(
        (f"{a} {b} {c}", seen * (singles[a] + singles[b] + singles[c]) / 3 * 1.5)
        for (a, b, c), seen in triples.items()
    )
    # The best ``top`` by score, ties alphabetical. Only phrases scoring at least the top-th
    # highest score can be among them: finding it by sorting the bare scores (in C) and then
    # ranking those few by key beat ranking all (~1,000 on a long article) by key.
    ranked = sorted(scores.values(), reverse=True)
    cut = ranked[top - 1] if len(ranked) >= top else 0.0
    best = sorted([kv for kv in scores.items() if kv[1] >= cut], key=lambda kv: (-kv[1], kv[0]))[
        :top
    ]
    return [Keyword(text=text, score=round(value, 3)) for text, value in best]
