"""Sentiment: one document score and one per entity, behind a pluggable model.

The default model is VADER (vaderSentiment, lexicon and rules, offline). Its cost grows
steeply with length (18 ms on the seed article's full text against 0.46 ms on its title and
bullets: shared/notes/library-speeds.md), so:

- the document score is VADER's compound on the headline and summary, which carry the tone;
- each entity's score is the mean, over the sentences that mention it, of a lexicon score:
  VADER's word valences summed with its negation and normalisation (no other rules), which
  costs a dictionary lookup per word.

VADER's lexicon is English. For an article in another language the score is 0 with
``reliable=false`` unless the configured model declares that language.
"""

import math
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Literal, Protocol

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from schemas.article import Article
from schemas.enriched import Sentiment

# VADER's authors' thresholds for the compound score, and its constants.
_POSITIVE = 0.05
_NEGATIVE = -0.05
_NORMALISE_ALPHA = 15.0
_NEGATION_SCALAR = -0.74
_NEGATIONS = {
    "not",
    "no",
    "never",
    "none",
    "nobody",
    "nothing",
    "neither",
    "nor",
    "without",
    "isn't",
    "aren't",
    "wasn't",
    "weren't",
    "don't",
    "doesn't",
    "didn't",
    "won't",
    "can't",
    "cannot",
    "couldn't",
    "shouldn't",
    "wouldn't",
    "hasn't",
    "haven't",
}
_TOKENS = re.compile(r"[a-z']+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'“A-Z0-9])")


class SentimentModel(Protocol):
    """What enrich needs of a sentiment model; select one with NEWSWIRE_SENTIMENT_MODEL."""

    name: str
    languages: frozenset[str]

    def document(self, text: str) -> float:
        """Score in [-1, 1] of a short text (headline and summary)."""
        ...

    def sentence(self, text: str) -> float:
        """Score in [-1, 1] of one sentence; called often, so it must be cheap."""
        ...


class VaderModel:
    name = "vader"
    languages = frozenset({"en"})

    def __init__(self) -> None:
        self._analyzer = _analyzer()
        self._lexicon: dict[str, float] = self._analyzer.lexicon

    def document(self, text: str) -> float:
        return float(self._analyzer.polarity_scores(text)["compound"])

    def sentence(self, text: str) -> float:
        total = 0.0
        flip_for = 0
        for word in _TOKENS.findall(text.lower()):
            if word in _NEGATIONS:
                flip_for = 3  # VADER looks three words back for a negation
                continue
            valence = self._lexicon.get(word)
            if valence is not None:
                total += valence * (_NEGATION_SCALAR if flip_for else 1.0)
            flip_for = max(0, flip_for - 1)
        return total / math.sqrt(total * total + _NORMALISE_ALPHA) if total else 0.0


@lru_cache(maxsize=1)
def _analyzer() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def label(score: float) -> Literal["negative", "neutral", "positive"]:
    if score >= _POSITIVE:
        return "positive"
    if score <= _NEGATIVE:
        return "negative"
    return "neutral"


def reliable_for(model: SentimentModel, article: Article) -> bool:
    # An undetected language is treated as English: most of the stream is, and ingest flags
    # articles whose language it could not tell.
    return (article.language or "en") in model.languages


def score(article: Article, model: SentimentModel | None = None) -> Sentiment:
    model = model or VaderModel()
    method = f"{model.name}:title+summary"
    if not reliable_for(model, article):
        return Sentiment(score=0.0, label="neutral", method=method, reliable=False)
    text = " ".join([article.title, *article.summary]) or article.body[:1000]
    compound = round(model.document(text), 4)
    return Sentiment(score=compound, label=label(compound), method=method)


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of ``text``."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        spans.append((start, match.start()))
        start = match.end()
    if start < len(text):
        spans.append((start, len(text)))
    return spans


def entity_scores(
    texts: Iterable[tuple[str, list[tuple[int, str]]]], model: SentimentModel
) -> dict[str, float]:
    """Mean sentence score per entity. ``texts``: (text, [(offset, entity id), ...])."""
    totals: dict[str, list[float]] = {}
    for text, mentions in texts:
        if not mentions:
            continue
        bounds = sentences(text)
        scored: dict[int, float] = {}
        for offset, entity_id in mentions:
            index = next((i for i, (s, e) in enumerate(bounds) if s <= offset < e), None)
            if index is None:
                continue
            if index not in scored:
                s, e = bounds[index]
                scored[index] = model.sentence(text[s:e])
            totals.setdefault(entity_id, []).append(scored[index])
    return {k: round(sum(v) / len(v), 4) for k, v in totals.items()}
