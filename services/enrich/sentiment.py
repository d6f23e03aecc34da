"""Headline-and-summary sentiment with VADER's lexicon and rules.

VADER's cost grows steeply with length (18 ms on the seed article's full text against
0.46 ms on its title and bullets: shared/notes/library-speeds.md), and a headline with its
bullets carries the article's tone, so that is what is scored.
"""

from functools import lru_cache

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from schemas.article import Article
from schemas.enriched import Sentiment

METHOD = "vader:title+summary"
# VADER's authors' thresholds for its compound score.
_POSITIVE = 0.05
_NEGATIVE = -0.05


@lru_cache(maxsize=1)
def _analyzer() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def score(article: Article) -> Sentiment:
    text = " ".join([article.title, *article.summary]) or article.body[:1000]
    compound = float(_analyzer().polarity_scores(text)["compound"])
    if compound >= _POSITIVE:
        label = "positive"
    elif compound <= _NEGATIVE:
        label = "negative"
    else:
        label = "neutral"
    return Sentiment(score=round(compound, 4), label=label, method=METHOD)
