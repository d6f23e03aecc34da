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
from collections import Counter, defaultdict
from functools import lru_cache

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
_SPLIT = re.compile(r"[^\w\s'’-]+|\s[-–—]\s")
_WORD = re.compile(r"[\w'’-]+")
MAX_PHRASE_WORDS = 3
TOP = 10


@lru_cache(maxsize=16)
def stopwords(language: str) -> frozenset[str]:
    return frozenset(w.casefold() for w in get_stop_words(_LANGUAGES.get(language, "english")))


def _phrases(text: str, stop: frozenset[str]) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for chunk in _SPLIT.split(text):
        current: list[str] = []
        for raw in _WORD.findall(chunk):
            word = raw.casefold().strip("'’-")
            if not word or word in stop or word.isdigit() or len(word) < 2:
                if current:
                    out.append(tuple(current))
                current = []
            else:
                current.append(word)
        if current:
            out.append(tuple(current))
    return out


def _windows(runs: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for run in runs:
        for n in range(1, min(MAX_PHRASE_WORDS, len(run)) + 1):
            out.extend(run[i : i + n] for i in range(len(run) - n + 1))
    return out


def keywords(article: Article, top: int = TOP) -> list[Keyword]:
    stop = stopwords(article.language or "en")
    title = _phrases(article.title, stop)
    body = _phrases("\n".join([*article.summary, article.body]), stop)
    word_counts: Counter[str] = Counter(w for run in title * 2 + body for w in run)
    counts: Counter[tuple[str, ...]] = Counter(_windows(title) * 2 + _windows(body))
    # Closed phrases only: drop one whose every occurrence is inside a longer candidate.
    longer: dict[tuple[str, ...], int] = defaultdict(int)
    for phrase, seen in counts.items():
        if len(phrase) > 1:
            for sub in (phrase[:-1], phrase[1:]):
                longer[sub] = max(longer[sub], seen)
    scores = {
        " ".join(phrase): seen
        * sum(word_counts[w] for w in phrase)
        / len(phrase)
        * (1.5 if len(phrase) > 1 else 1.0)
        for phrase, seen in counts.items()
        if longer.get(phrase, 0) < seen
    }
    best = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return [Keyword(text=text, score=round(value, 3)) for text, value in best]
