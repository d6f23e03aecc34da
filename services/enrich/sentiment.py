"""Sentiment: one document score and one per entity, behind a pluggable model.

The default model is VADER's lexicon (vaderSentiment, offline) adjusted for news by a data
file (services/enrich/data/sentiment_news.yaml) and scored by a lean re-implementation of the
VADER rules that matter in news text:

- word valences summed, each flipped and damped by a negation in the three words before it,
  pushed by a booster ("sharply", "very") or halved by a dampener ("slightly", "edges");
- "but" halves what comes before it and weighs what follows by 1.5;
- movement words take their sign from the quantity that moves: "unemployment falls" and
  "inflation eases" are good news, "exports fall" and "prices jump" bad;
- the sum goes through VADER's normalisation, x / sqrt(x^2 + 15), into [-1, 1].

VADER's own ``polarity_scores`` is not used: it cost 0.11 ms per headline and summary, about
five times this scorer, and its emphasis rules (capitals, "!!!") read social media, not
headlines. The document score weighs the headline above the summary, since the headline
states the main event. It is then calibrated so that VADER's conventional thresholds, +-0.05,
still separate the labels (subscriptions and topic rules reason in those terms) while the
neutral band of the raw score is wider (+-0.15, a weighted raw sum under about 0.6: a
dampened or negated weak word). Wider bands lost accuracy on the development set; most
neutral news is neutral because its terms ("security", "interest rates") are, not because
of the band.

Each entity's score is the mean over the sentences that mention it of the same scorer on the
sentence, uncalibrated (no neutral band: it is a degree, not a label).

The lexicon is English. For an article in another language the score is 0 with
``reliable=false`` unless the configured model declares that language.

:class:`MultilingualModel` (built-in name ``multilingual``) dispatches on the article's
detected language: English goes to the VaderModel above, unchanged; German and French to a
:class:`LexiconModel` over the polarity lexicon that a PyPI package ships as data (read from
the installed package's files, never downloaded, the package itself never imported):

- German: textblob-de's ``de-sentiment.xml``, the German Polarity Lexicon of Klenner,
  Clematide et al. (2010), about 7,300 nouns, verbs and adjectives (data Apache-2.0);
- French: textblob-fr's ``fr-sentiment.xml``, Pattern's French adjective lexicon by De Smedt
  and Daelemans, about 4,200 forms (data PDDL).

Each lexicon gets a news supplement (data/sentiment_news_<code>.yaml, as English has
sentiment_news.yaml): news words the lexicon lacks ("Beschuss", "inondations") and terms it
misreads as judgements removed ("Sicherheit", "grave"). ``LexiconModel.for_language(code,
news=False)`` is the lexicon as shipped.

No package with a permissively licensed, offline Spanish (or Italian, Polish, Ukrainian,
Russian) lexicon was found (docs/work-notes/sentiment-ml.md), so those languages stay
``reliable=false`` with a score of 0. The lexicon scorer keeps VADER's shape (sum of word
valences, negation, "but", the same normalisation, title weight and calibration) with each
language's negations, German inflection (forms generated from the lexicon's part of speech)
and German compounds (a noun unknown as a whole takes the valence of its longest known tail:
"Raketenangriff" is an "Angriff").
"""

import importlib
import importlib.util
import math
import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Protocol, cast

import yaml
from defusedxml import ElementTree
from vaderSentiment.vaderSentiment import BOOSTER_DICT, NEGATE, SentimentIntensityAnalyzer

from schemas.article import Article
from schemas.enriched import Sentiment

NEWS_ADJUSTMENTS = Path(__file__).parent / "data" / "sentiment_news.yaml"

# VADER's thresholds for the compound score, and its constants.
_POSITIVE = 0.05
_NEGATIVE = -0.05
_NORMALISE_ALPHA = 15.0
_NEGATION_SCALAR = -0.74
_BUT_BEFORE = 0.5
_BUT_AFTER = 1.5
# Booster effect by distance (one, two, three words back), as in VADER.
_BOOSTER_DECAY = (1.0, 0.95, 0.9)
_DAMPENER = 0.5
# Chosen on tests/eval/articles.yaml (the development set); tests/eval/sentiment_heldout.yaml
# only reports how well that choice carries over (docs/sentiment.md).
_TITLE_WEIGHT = 2.0
_SUMMARY_WEIGHT = 1.0
_NEUTRAL_BAND = 0.15

_NEGATIONS = frozenset(NEGATE) | {"no", "nobody"}
# Words, with their inner hyphens and apostrophes ("post-war", "isn't", "ukraine's").
_WORDS = re.compile(r"[a-z]+(?:['-][a-z]+)*")
# Every byte that cannot be part of a word becomes a space (see _words).
_WORD_BYTES = b"abcdefghijklmnopqrstuvwxyz'-"
_SEPARATE = bytes(c if c in _WORD_BYTES else 0x20 for c in range(256))
# The whitespace after a sentence's final punctuation, when a sentence starts after it. The
# punctuation is matched, not looked behind for: the engine then scans for [.!?] instead of
# trying the pattern at every character (16 µs against 42 on the seed body, same spans).
_SENTENCE_END = re.compile(r"[.!?](\s+)(?=[\"'“A-Z0-9])")
_RATE_WORDS = frozenset({"rate", "rates"})
_FEWER = frozenset({"fewer", "less"})
_CHAIN = 4  # a movement this many words after another one can share its quantity


class SentimentModel(Protocol):
    """What enrich needs of a sentiment model; select one with NEWSWIRE_SENTIMENT_MODEL
    (:func:`load_model`)."""

    name: str
    languages: frozenset[str]

    def document(self, title: str, summary: Sequence[str]) -> float:
        """Score in [-1, 1] of an article's headline and summary; +-0.05 separate the labels."""
        ...

    def sentence(self, text: str) -> float:
        """Score in [-1, 1] of one sentence; called often, so it must be cheap."""
        ...


@dataclass(frozen=True)
class NewsLexicon:
    """VADER's lexicon with the news adjustments applied, and the movement rule's tables."""

    valence: dict[str, float]
    quantities: dict[str, int]
    movements: dict[str, float]
    dampeners: frozenset[str]
    boosters: dict[str, float]
    modifiers: frozenset[str]


def load_news_lexicon(path: Path = NEWS_ADJUSTMENTS) -> NewsLexicon:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    valence: dict[str, float] = dict(_analyzer().lexicon)
    valence.update({str(k): float(v) for k, v in data["valence"].items()})
    # Negations modify the words after them and carry no valence of their own.
    for word in [*data["neutral"], *_NEGATIONS]:
        valence.pop(str(word), None)
    quantities = {str(w): 1 for w in data["quantities"]["good"]}
    quantities.update({str(w): -1 for w in data["quantities"]["bad"]})
    quantities.update({f"{w}'s": p for w, p in quantities.items()})  # "the economy's growth"
    movements = {str(k): float(v) for k, v in data["movement"]["up"].items()}
    movements.update({str(k): -float(v) for k, v in data["movement"]["down"].items()})
    dampeners = frozenset(str(w) for w in data["dampeners"])
    boosters = {k: float(v) for k, v in BOOSTER_DICT.items() if " " not in k}
    return NewsLexicon(
        valence=valence,
        quantities=quantities,
        movements=movements,
        dampeners=dampeners,
        boosters=boosters,
        modifiers=_NEGATIONS | dampeners | boosters.keys(),
    )


class VaderModel:
    """VADER's lexicon adjusted for news, with VADER's rules that matter in news text."""

    name = "vader"
    languages = frozenset({"en"})

    def __init__(self, lexicon: NewsLexicon | None = None) -> None:
        self._lexicon = lexicon or _news_lexicon()
        # The words _sum acts on; the others (nine in ten in news prose) it skips.
        self._acting = frozenset(self._lexicon.valence).union({"but"})

    def document(self, title: str, summary: Sequence[str]) -> float:
        raw = _TITLE_WEIGHT * self._sum(title) + _SUMMARY_WEIGHT * self._sum(" ".join(summary))
        return calibrate(_normalise(raw))

    def sentence(self, text: str) -> float:
        return _normalise(self._sum(text))

    def span_scorer(self, text: str) -> Callable[[int, int], float]:
        """``sentence(text[start:end])`` as a function of (start, end), for many sentences
        of one text: the text is folded and its separators found once, not per sentence."""
        folded = _fold(text)
        if len(folded) != len(text):  # offsets would not line up ("İ" folds to two)
            return lambda start, end: self.sentence(text[start:end])
        # Folding maps each character on its own (final sigma aside, a separator either
        # way), so a slice of the whole text's spaced form is the slice's spaced form.
        spaced = _spaced(folded)
        return lambda start, end: _normalise(self._score(_split(spaced[start:end])))

    def _sum(self, text: str) -> float:
        return self._score(_words(text))

    def _score(self, words: list[str]) -> float:
        lexicon = self._lexicon
        valence = lexicon.valence
        modifiers = lexicon.modifiers
        # A quantity that moves is the subject of the news, not its tone ("unemployment
        # falls"): the movement is scored and the quantity's own valence left out.
        moved: dict[int, float] = {}
        subjects: set[int] = set()
        if not lexicon.movements.keys().isdisjoint(words):
            self._movements(words, moved, subjects)
        total = 0.0
        after_but = False
        # Only words with a valence, "but" and scored movements change the total: their
        # positions are picked in one comprehension, then visited in order.
        acting = self._acting
        visit = [i for i, word in enumerate(words) if word in acting]
        if moved:
            visit = sorted(moved.keys() | visit)
        for i in visit:
            word = words[i]
            value = valence.get(word)
            if moved:
                if i in moved:
                    value = moved[i]
                elif i in subjects:
                    continue
            if value is None:
                if word == "but" and not after_but:
                    total *= _BUT_BEFORE
                    after_but = True
                continue
            if i and not modifiers.isdisjoint(words[max(0, i - 3) : i]):
                value = self._modified(words, i, value)
            total += value * _BUT_AFTER if after_but else value
        return total

    def _movements(self, words: list[str], moved: dict[int, float], subjects: set[int]) -> None:
        """Score the movement words of ``words`` by the quantity that moves (see the data file)."""
        movements = self._lexicon.movements
        valence = self._lexicon.valence
        polarities = self._quantity_polarities(words)
        last: int | None = None  # the last movement that found its quantity
        for i, word in enumerate(words):
            movement = movements.get(word)
            if movement is None:
                continue
            j = _nearest(polarities, i)
            if j is None and last is not None and i - last <= _CHAIN:
                # "unemployment falls to its lowest level": the second movement is the first's
                j = _nearest(polarities, last)
            if j is not None:
                moved[i] = movement * polarities[j]
                subjects.add(j)
                while j > 0 and polarities[j - 1]:  # the rest of "price growth", "growth rate"
                    j -= 1
                    subjects.add(j)
                last = i
            elif word in _FEWER and i + 1 < len(words) and words[i + 1] in valence:
                moved[i] = movement * math.copysign(1.0, valence[words[i + 1]])
                subjects.add(i + 1)

    def _quantity_polarities(self, words: list[str]) -> list[int]:
        """+1/-1 where a word names a quantity whose rise is good/bad news, else 0.

        A quantity right after another one is measured by the first ("price growth" is bad,
        "unemployment rate" bad, "growth rate" good); a lone "rate" is an interest rate.
        """
        quantities = self._lexicon.quantities
        polarities = [quantities.get(w, 0) for w in words]
        for i in range(1, len(words)):
            if polarities[i] and polarities[i - 1] and words[i - 1] not in _RATE_WORDS:
                polarities[i] = polarities[i - 1]
        return polarities

    def _modified(self, words: list[str], i: int, value: float) -> float:
        """``value`` of ``words[i]`` after the boosters, dampeners and negations before it."""
        lexicon = self._lexicon
        for distance, decay in enumerate(_BOOSTER_DECAY, start=1):
            j = i - distance
            if j < 0:
                break
            before = words[j]
            boost = lexicon.boosters.get(before)
            if boost is not None:
                value += boost * decay if value > 0 else -boost * decay
            elif before in lexicon.dampeners and distance <= 2:
                value *= _DAMPENER
            if before in _NEGATIONS:
                value *= _NEGATION_SCALAR
        return value


def _nearest(polarities: list[int], i: int) -> int | None:
    """Index of the quantity nearest word ``i``: up to three words before, two after."""
    n = len(polarities)
    for j in (i - 1, i + 1, i - 2, i + 2, i - 3):
        if 0 <= j < n and polarities[j]:
            return j
    return None


def _fold(text: str) -> str:
    return text.lower().replace("’", "'")


def _words(text: str) -> list[str]:
    """``_WORDS.findall(_fold(text))``, at about half the cost.

    Every character that cannot be in a word becomes a space (non-ASCII ones via the
    encoder's "?", then the byte table), so ``split`` gives the runs of letters, apostrophes
    and hyphens; only runs holding an apostrophe or a hyphen go through the pattern, which
    drops those not between two letters. Words never span a separator, so the results are
    the same (tests/unit/test_sentiment_keywords.py checks it on random text).
    """
    return _split(_spaced(_fold(text)))


def _spaced(folded: str) -> str:
    """``folded`` with every character that cannot be in a word replaced by a space."""
    return folded.encode("ascii", "replace").translate(_SEPARATE).decode("ascii")


def _split(spaced: str) -> list[str]:
    """The words of a ``_spaced`` text."""
    runs = spaced.split()
    if "'" not in spaced and "-" not in spaced:
        return runs
    found: list[str] = []
    for run in runs:
        if "'" in run or "-" in run:
            found += _WORDS.findall(run)
        else:
            found.append(run)
    return found


def _normalise(total: float) -> float:
    return total / math.sqrt(total * total + _NORMALISE_ALPHA) if total else 0.0


def calibrate(x: float) -> float:
    """Map the raw neutral band (-_NEUTRAL_BAND, _NEUTRAL_BAND) into (-0.05, 0.05), the rest
    linearly onto the remaining range: monotone, continuous, and labelled by VADER's
    thresholds."""
    magnitude = abs(x)
    if magnitude < _NEUTRAL_BAND:
        scaled = magnitude / _NEUTRAL_BAND * _POSITIVE
    else:
        scaled = _POSITIVE + (1 - _POSITIVE) * (magnitude - _NEUTRAL_BAND) / (1 - _NEUTRAL_BAND)
    return math.copysign(min(scaled, 1.0), x)


# --- other languages -------------------------------------------------------------------------

# The package and the file in it holding each language's polarity lexicon (Pattern's XML).
LEXICON_FILES: dict[str, tuple[str, str]] = {
    "de": ("textblob_de", "data/de-sentiment.xml"),
    "fr": ("textblob_fr", "fr-sentiment.xml"),
}
# News-domain additions to each lexicon, the counterparts of NEWS_ADJUSTMENTS.
NEWS_SUPPLEMENTS = {
    code: NEWS_ADJUSTMENTS.with_name(f"sentiment_news_{code}.yaml") for code in LEXICON_FILES
}
# Pattern's polarities lie in [-1, 1]; VADER's valences in [-4, 4], with "good" at 1.9.
_POLARITY_SCALE = 2.0
# Words, letters only: "l'inflation" is "l" and "inflation", "sud-est" "sud" and "est".
_LETTERS = re.compile(r"[^\W\d_]+")


@dataclass(frozen=True)
class LanguageRules:
    """What the lexicon scorer needs to know of a language besides its lexicon."""

    code: str
    # Any of these in the three words before a word flips (and damps) its valence, once:
    # "nicht gut", "keine Verstöße", "n'est pas bonne", "ne ... aucune violation".
    negations: frozenset[str]
    # VADER's "but": what comes before is halved, what follows weighs 1.5.
    contrasts: frozenset[str]
    compounds: bool = False  # German: an unknown long word may end in a known noun


RULES: dict[str, LanguageRules] = {
    "de": LanguageRules(
        code="de",
        negations=frozenset(
            {
                "nicht",
                "kein",
                "keine",
                "keinen",
                "keinem",
                "keiner",
                "keines",
                "nie",
                "niemals",
                "nichts",
                "ohne",
                "weder",
                "niemand",
            }
        ),
        contrasts=frozenset({"aber", "jedoch", "doch", "allerdings"}),
        compounds=True,
    ),
    "fr": LanguageRules(
        code="fr",
        negations=frozenset(
            {"ne", "n", "pas", "jamais", "rien", "aucun", "aucune", "sans", "ni", "guère"}
        ),
        contrasts=frozenset({"mais", "cependant", "pourtant", "toutefois"}),
    ),
}

# German inflection: the endings each part of speech may add to the lexicon's base form.
_GERMAN_ENDINGS = {
    "JJ": ("e", "en", "er", "es", "em", "ere", "eren", "erer", "eres", "erem"),
    "NN": ("e", "en", "n", "s", "es", "er", "ern", "nen"),
}
_GERMAN_COMPOUND_TAIL = 5  # letters; shorter tails ("amt", "rat") hit unrelated words
_GERMAN_COMPOUND_HEAD = 4  # letters; shorter heads are prefixes: "Aus-schuss" is no shot
_GERMAN_COMPOUND_MIN = _GERMAN_COMPOUND_HEAD + _GERMAN_COMPOUND_TAIL


def lexicon_file(language: str) -> Path:
    """Where the installed package keeps ``language``'s lexicon. The package is located,
    not imported (textblob_de would import textblob and NLTK)."""
    package, relative = LEXICON_FILES[language]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"sentiment lexicon for {language!r}: package {package} is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / relative


def read_polarity_lexicon(path: Path) -> list[tuple[str, str, float]]:
    """(form, part of speech, polarity) of each entry of a Pattern sentiment lexicon."""
    root = ElementTree.parse(path).getroot()
    if root is None:
        raise ValueError(f"{path}: no sentiment lexicon in it")
    return [
        (str(w.get("form", "")), str(w.get("pos", "")), float(w.get("polarity") or 0.0))
        for w in root.iter("word")
    ]


def build_lexicon(
    entries: Iterable[tuple[str, str, float]], rules: LanguageRules
) -> tuple[dict[str, float], frozenset[str]]:
    """Lower-cased form -> valence on VADER's scale (the mean where a form is listed more
    than once), and, for German, the nouns a compound may end in. Inflected German forms
    are added for forms the lexicon does not list itself."""
    sums: dict[str, list[float]] = {}
    nouns: set[str] = set()
    for form, pos, polarity in entries:
        word = form.lower()
        if not polarity or not _LETTERS.fullmatch(word):
            continue
        sums.setdefault(word, []).append(polarity)
        if rules.compounds and pos == "NN" and len(word) >= _GERMAN_COMPOUND_TAIL:
            nouns.add(word)
    valence = {w: _POLARITY_SCALE * sum(v) / len(v) for w, v in sums.items()}
    if rules.code == "de":
        derived: dict[str, float] = {}
        for form, pos, _ in entries:
            word = form.lower()
            value = valence.get(word)
            if value is None:
                continue
            for inflected in _german_forms(word, pos):
                if inflected not in valence:
                    derived.setdefault(inflected, value)
        valence.update(derived)
    return valence, frozenset(nouns)


def apply_news_supplement(
    valence: dict[str, float], nouns: frozenset[str], path: Path, rules: LanguageRules
) -> tuple[dict[str, float], frozenset[str]]:
    """``valence`` with a news supplement's entries (services/enrich/data/sentiment_news_<code>
    .yaml) set and its neutral words removed; a capitalised entry is a noun: its German forms
    are added and a compound may end in it."""
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    if data.get("language") != rules.code:
        raise ValueError(f"{path}: not a {rules.code!r} news supplement")
    out = dict(valence)
    tails = set(nouns)
    for entry, value in data.get("valence", {}).items():
        word = str(entry).lower()
        out[word] = float(value)
        if rules.code == "de" and str(entry)[:1].isupper():
            for inflected in _german_forms(word, "NN"):
                out.setdefault(inflected, float(value))
            if rules.compounds and len(word) >= _GERMAN_COMPOUND_TAIL:
                tails.add(word)
    for entry in data.get("neutral", []):
        word = str(entry).lower()
        out.pop(word, None)
        tails.discard(word)
        if rules.code == "de":
            for inflected in _german_forms(word, "JJ"):
                out.pop(inflected, None)
    return out, frozenset(tails)


def _german_forms(word: str, pos: str) -> list[str]:
    endings = _GERMAN_ENDINGS.get(pos, ())
    forms = [word + e for e in endings]
    if pos == "VB" and word.endswith("en") and len(word) > 4:
        stem = word[:-2]
        # present and past, participle: "sinken" -> sinkt, sinkte(n); "loben" -> gelobt
        participle = "ge" + stem + "t"
        forms += [stem + "t", stem + "et", stem + "te", stem + "ten", participle]
        forms += [participle + e for e in ("e", "en", "er", "es")]
    return forms


class LexiconModel:
    """A polarity lexicon of one language, scored with VADER's rules that carry over:
    valences summed, negation, "but", the normalisation and the document calibration."""

    def __init__(
        self,
        rules: LanguageRules,
        valence: Mapping[str, float],
        compound_nouns: frozenset[str] = frozenset(),
        name: str | None = None,
    ) -> None:
        self.rules = rules
        self.name = name or f"lexicon-{rules.code}"
        self.languages = frozenset({rules.code})
        self._valence = dict(valence)
        self._nouns = compound_nouns
        self._compound_cache: dict[str, float | None] = {}

    @classmethod
    def for_language(cls, language: str, news: bool = True) -> "LexiconModel":
        """The package's lexicon for ``language``, with the news supplement unless ``news``
        is false (the lexicon as shipped)."""
        rules = RULES[language]
        valence, nouns = build_lexicon(read_polarity_lexicon(lexicon_file(language)), rules)
        package = LEXICON_FILES[language][0].replace("_", "-")
        name = f"{package}-lexicon"
        if news:
            valence, nouns = apply_news_supplement(
                valence, nouns, NEWS_SUPPLEMENTS[language], rules
            )
            name = f"{package}+news"
        return cls(rules, valence, nouns, name=name)

    def document(self, title: str, summary: Sequence[str]) -> float:
        raw = _TITLE_WEIGHT * self._sum(title) + _SUMMARY_WEIGHT * self._sum(" ".join(summary))
        return calibrate(_normalise(raw))

    def sentence(self, text: str) -> float:
        return _normalise(self._sum(text))

    def valence(self, word: str) -> float | None:
        """The valence of one lower-cased word, German compounds included."""
        value = self._valence.get(word)
        if value is None and self._nouns and len(word) >= _GERMAN_COMPOUND_MIN:
            value = self._compound(word)
        return value

    def _compound(self, word: str) -> float | None:
        if word in self._compound_cache:
            return self._compound_cache[word]
        found: float | None = None
        for start in range(_GERMAN_COMPOUND_HEAD, len(word) - _GERMAN_COMPOUND_TAIL + 1):
            tail = word[start:]
            if tail in self._nouns:  # the longest known noun it ends in
                found = self._valence[tail]
                break
        if len(self._compound_cache) < 100_000:
            self._compound_cache[word] = found
        return found

    def _sum(self, text: str) -> float:
        rules = self.rules
        negations = rules.negations
        words = _LETTERS.findall(text.lower())
        total = 0.0
        after_contrast = False
        for i, word in enumerate(words):
            if word in rules.contrasts:
                if not after_contrast:
                    total *= _BUT_BEFORE
                    after_contrast = True
                continue
            if word in negations:
                continue
            value = self.valence(word)
            if value is None:
                continue
            if not negations.isdisjoint(words[max(0, i - 3) : i]):
                value *= _NEGATION_SCALAR
            total += value * _BUT_AFTER if after_contrast else value
        return total


class MultilingualModel:
    """One model per language, chosen by the article's detected language: English by
    :class:`VaderModel`, unchanged, German and French by their :class:`LexiconModel`."""

    name = "multilingual"

    def __init__(self, models: Sequence[SentimentModel] | None = None) -> None:
        if models is None:
            models = [VaderModel(), *(LexiconModel.for_language(code) for code in LEXICON_FILES)]
        self._models: dict[str, SentimentModel] = {}
        for model in models:
            for language in model.languages:
                self._models.setdefault(language, model)
        self.languages = frozenset(self._models)
        self._english = self._models.get("en") or VaderModel()

    def for_language(self, language: str | None) -> SentimentModel | None:
        """The model for ``language`` (None or "" counts as English), or None."""
        return self._models.get(language or "en")

    def document(self, title: str, summary: Sequence[str]) -> float:
        return self._english.document(title, summary)

    def sentence(self, text: str) -> float:
        return self._english.sentence(text)


@lru_cache(maxsize=1)
def _analyzer() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


@lru_cache(maxsize=1)
def _news_lexicon() -> NewsLexicon:
    return load_news_lexicon()


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


BUILT_IN_MODELS = {
    "vader": "services.enrich.sentiment:VaderModel",
    "multilingual": "services.enrich.sentiment:MultilingualModel",
}


def load_model(spec: str) -> SentimentModel:
    """The model ``spec`` names: a built-in name (``vader``) or ``package.module:factory``,
    a class or function that takes no argument and returns a :class:`SentimentModel` (a
    heavier model, another language's). Imported once at start-up, so a typo stops the worker
    at once with the reason, not at the first article."""
    target = BUILT_IN_MODELS.get(spec, spec)
    module_name, sep, attribute = target.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(
            f"sentiment model {spec!r}: expected one of {sorted(BUILT_IN_MODELS)} "
            "or 'package.module:factory'"
        )
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"sentiment model {spec!r} cannot be loaded: {exc}") from exc
    model = factory()
    missing = [
        name for name in ("name", "languages", "document", "sentence") if not hasattr(model, name)
    ]
    if missing:
        raise ValueError(f"sentiment model {spec!r} lacks {', '.join(missing)}")
    return cast(SentimentModel, model)


def score(article: Article, model: SentimentModel | None = None) -> Sentiment:
    model = model or VaderModel()
    if isinstance(model, MultilingualModel):
        chosen = model.for_language(article.language)
        if chosen is not None:
            model = chosen  # its own name in ``method``: "vader" for English, as before
    method = f"{model.name}:title+summary"
    if not reliable_for(model, article):
        return Sentiment(score=0.0, label="neutral", method=method, reliable=False)
    if article.title or article.summary:
        value = model.document(article.title, article.summary)
    else:
        value = model.document(article.body[:1000], [])
    compound = round(value, 4)
    return Sentiment(score=compound, label=label(compound), method=method)


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of ``text``."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        end, start_next = match.span(1)
        spans.append((start, end))
        start = start_next
    if start < len(text):
        spans.append((start, len(text)))
    return spans


def _span_scorer(model: SentimentModel, text: str) -> Callable[[int, int], float]:
    if isinstance(model, VaderModel):
        return model.span_scorer(text)
    return lambda start, end: model.sentence(text[start:end])


def entity_scores(
    texts: Iterable[tuple[str, list[tuple[int, str]]]],
    model: SentimentModel,
    language: str | None = None,
) -> dict[str, float]:
    """Mean sentence score per entity. ``texts``: (text, [(offset, entity id), ...]).

    A :class:`MultilingualModel` scores with its model for ``language`` (the article's)."""
    if isinstance(model, MultilingualModel):
        chosen = model.for_language(language)
        model = chosen if chosen is not None else model
    totals: dict[str, list[float]] = {}
    for text, mentions in texts:
        if not mentions:
            continue
        bounds = sentences(text)
        starts = [s for s, _ in bounds]
        scored: dict[int, float] = {}
        score_span = _span_scorer(model, text)
        for offset, entity_id in mentions:
            index = bisect_right(starts, offset) - 1
            if index < 0 or offset >= bounds[index][1]:
                continue  # between two sentences
            if index not in scored:
                scored[index] = score_span(*bounds[index])
            totals.setdefault(entity_id, []).append(scored[index])
    return {k: round(sum(v) / len(v), 4) for k, v in totals.items()}
