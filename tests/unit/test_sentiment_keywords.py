"""Sentiment (document, per entity, reliability by language) and keyphrases."""

from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.article import Article
from services.enrich import sentiment
from services.enrich.entities import load_gazetteer
from services.enrich.keywords import keywords
from services.enrich.settings import DEFAULT_GAZETTEER, DEFAULT_TAXONOMY
from services.enrich.step import enrich
from services.enrich.taxonomy import load_taxonomy
from services.ingest.normalize import NormalizePolicy, normalize, single_article
from tests.helpers import fixture_event, raw_event, sample_text, seed_text

TAXONOMY = load_taxonomy(DEFAULT_TAXONOMY)
GAZETTEER = load_gazetteer(DEFAULT_GAZETTEER)
MODEL = sentiment.VaderModel()


def article(text: str) -> Article:
    return single_article(raw_event(text))


class TestSentiment:
    def test_sentence_score_follows_the_lexicon_and_negation(self) -> None:
        assert MODEL.sentence("A great, wonderful success.") > 0.5
        assert MODEL.sentence("A terrible, deadly disaster.") < -0.5
        assert MODEL.sentence("This is not good.") < 0
        assert MODEL.sentence("Ministers met on Tuesday.") == 0.0

    def test_entities_get_the_tone_of_their_sentences(self) -> None:
        text = (
            "Mixed fortunes\n2025-01-01 00:00- Leaders met.\nInsights\n"
            "Macron praised the wonderful, successful summit. "
            "Putin was condemned for the brutal, deadly attacks."
        )
        e = enrich(article(text), TAXONOMY, GAZETTEER)
        by_id = {m.id: m.sentiment for m in e.entities}
        assert by_id["person:emmanuel-macron"] is not None
        assert by_id["person:vladimir-putin"] is not None
        assert by_id["person:emmanuel-macron"] > 0.3
        assert by_id["person:vladimir-putin"] < -0.3

    def test_languages_the_model_lacks_are_neutral_and_unreliable(self) -> None:
        # The English-only model on a French article (the default model covers French now).
        [fr, _] = normalize(fixture_event("feed/atom.xml"), NormalizePolicy()).articles
        e = enrich(fr, TAXONOMY, GAZETTEER, model=sentiment.VaderModel())
        assert fr.language == "fr"
        assert (e.sentiment.score, e.sentiment.label, e.sentiment.reliable) == (
            0.0,
            "neutral",
            False,
        )
        assert all(m.sentiment is None for m in e.entities)

    def test_news_vocabulary_vader_lacks_is_scored(self) -> None:
        assert MODEL.sentence("Shelling and airstrikes as new sanctions and tariffs bite.") < -0.5
        assert MODEL.sentence("Floods and a wildfire leave deaths and casualties.") < -0.5
        assert MODEL.sentence("The ceasefire deal brings a breakthrough.") > 0.3

    def test_names_and_terms_in_news_carry_no_tone(self) -> None:
        # VADER alone scores each of these positive ("united", "security", "interest", ...).
        for text in (
            "The United States and the United Nations met.",
            "Talks on security guarantees and assurances for Ukraine.",
            "Interest on credit and shares in the party.",
            "The Supreme Court and the Justice Department.",
        ):
            assert MODEL.sentence(text) == 0.0, text

    def test_a_movement_takes_its_sign_from_the_quantity_that_moves(self) -> None:
        assert MODEL.sentence("Unemployment falls to its lowest level.") > 0.3
        assert MODEL.sentence("The yen rises to a record high.") > 0.3
        assert MODEL.sentence("Inflation eases again.") > 0.3
        assert MODEL.sentence("Exports fall sharply.") < -0.3
        assert MODEL.sentence("Consumer prices jump.") < -0.3
        assert MODEL.sentence("Retail sales rebound.") > 0.3
        assert MODEL.sentence("The bank cuts interest rates.") > 0.3
        assert MODEL.sentence("The carmaker cuts 4,000 jobs.") < -0.3
        # A quantity named before another says what is measured.
        assert MODEL.sentence("Price growth slows.") > 0.2
        assert MODEL.sentence("The growth rate slows.") < -0.2
        assert MODEL.sentence("The model makes fewer mistakes.") > 0.2
        # Phrasal "up" is not a movement.
        assert MODEL.sentence("Orders dry up.") <= 0.0

    def test_negation_boosters_dampeners_and_but(self) -> None:
        assert MODEL.sentence("Exports did not fall.") > 0
        assert MODEL.sentence("Prices edged lower.") < MODEL.sentence("Prices fell.")
        assert MODEL.sentence("A very deadly attack.") < MODEL.sentence("A deadly attack.")
        assert MODEL.sentence("A good start but a terrible end.") < 0

    def test_headline_outweighs_summary(self) -> None:
        good, bad = "Steelworks saved by rescue deal", "Workers fear job losses"
        assert MODEL.document(good, [bad]) > 0.05
        assert MODEL.document(bad, [good]) < -0.05

    def test_calibration_is_monotone_continuous_and_keeps_vader_thresholds(self) -> None:
        xs = [i / 1000 for i in range(-1000, 1001)]
        ys = [sentiment.calibrate(x) for x in xs]
        assert ys == sorted(ys)
        assert max(abs(b - a) for a, b in pairwise(ys)) < 0.01
        assert sentiment.calibrate(0.0) == 0.0
        assert sentiment.calibrate(1.0) == 1.0
        assert sentiment.calibrate(-1.0) == -1.0
        assert sentiment.calibrate(0.1) == sentiment.calibrate(-0.1) * -1 < 0.05

    def test_document_label_of_news_headlines(self) -> None:
        assert sentiment.label(MODEL.document("Twelve killed as shelling hits market", [])) == (
            "negative"
        )
        assert sentiment.label(MODEL.document("Central bank holds rate at 4.25%", [])) == (
            "neutral"
        )
        assert sentiment.label(MODEL.document("Unemployment falls to a ten-year low", [])) == (
            "positive"
        )

    def test_sentences_split_on_terminal_punctuation(self) -> None:
        text = "One ends here. Two asks? Three! four stays with three."
        assert [text[s:e] for s, e in sentiment.sentences(text)] == [
            "One ends here.",
            "Two asks?",
            "Three! four stays with three.",
        ]


class TestKeywords:
    def test_seed_keyphrases(self) -> None:
        found = [k.text for k in keywords(article(seed_text()))]
        assert {"ukraine", "starmer", "trump"} <= set(found[:4])
        assert "ukraine security guarantees" in found
        assert len(found) == 10

    def test_sub_phrases_of_one_longer_phrase_are_dropped(self) -> None:
        found = [k.text for k in keywords(article(sample_text("ecb-holds-rates.txt")))]
        assert "european central bank" in found
        assert "european central" not in found
        assert "central bank" not in found or found.count("central bank") == 1

    def test_scores_descend(self) -> None:
        scores = [k.score for k in keywords(article(seed_text()))]
        assert scores == sorted(scores, reverse=True)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="ab9_'-|.,;:!?()\" \n\t\x0b\x1cAB", max_size=40))
def test_ascii_keyword_tokens_break_where_the_scan_does(text: str) -> None:
    """The ASCII fast path (translate and split) against the regex scan: the same words, and a
    break (a separator, or a token that folds to nothing) at the same places."""
    from services.enrich.keywords import _BREAK, _TOKENS, _phrases, _tokens, stopwords

    stop = stopwords("en")
    scanned = [word or _BREAK for _, word in _TOKENS.findall(text)]
    assert _phrases(text, stop) == _runs(scanned, stop)
    assert _runs(_tokens(text), stop) == _runs(scanned, stop)


def _runs(tokens: list[str], stop: frozenset[str]) -> list[list[str]]:
    from services.enrich.keywords import _BREAK, _fold

    out: list[list[str]] = []
    current: list[str] = []
    for token in tokens:
        word = "" if token == _BREAK else _fold(token, stop)
        if word:
            current.append(word)
        elif current:
            out.append(current)
            current = []
    return [*out, current] if current else out


# Letters on both sides of the ASCII range, the word joiners, the sentence-end punctuation and
# starts, and characters whose case folding is not plain ASCII ("K" Kelvin, dotted capital I).
_SENTIMENT_TEXT = "aBz'’-.!?\"“9 \n\tKéİ—\u212a"


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=_SENTIMENT_TEXT, max_size=40))
def test_sentiment_words_are_the_pattern_s(text: str) -> None:
    """_words (translate and split) finds what the word pattern finds in the folded text."""
    assert sentiment._words(text) == sentiment._WORDS.findall(sentiment._fold(text))


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=_SENTIMENT_TEXT, max_size=60))
def test_sentences_split_after_final_punctuation(text: str) -> None:
    """The spans of the look-behind pattern that sentences() used before (same results)."""
    import re

    ends = re.compile(r"(?<=[.!?])\s+(?=[\"'“A-Z0-9])")
    expected, start = [], 0
    for match in ends.finditer(text):
        expected.append((start, match.start()))
        start = match.end()
    if start < len(text):
        expected.append((start, len(text)))
    assert sentiment.sentences(text) == expected


@settings(max_examples=500, deadline=None)
@given(
    st.text(alphabet=_SENTIMENT_TEXT + "Σσςgoodbad fell rose", max_size=60),
    st.integers(0, 60),
    st.integers(0, 60),
)
def test_span_scores_are_the_slices_scores(text: str, start: int, end: int) -> None:
    """Entity sentiment scores sentences from one spaced copy of the whole text."""
    assert MODEL.span_scorer(text)(start, end) == MODEL.sentence(text[start:end])


def test_entity_scores_are_sentence_scores_on_real_text() -> None:
    """The same per-entity scores as a model that only offers ``sentence``."""

    class SentenceOnly:
        name, languages = MODEL.name, MODEL.languages
        document, sentence = MODEL.document, MODEL.sentence

    texts = []
    for text in (seed_text(), sample_text("ecb-holds-rates.txt")):
        located = GAZETTEER.locate(article(text)).values()
        texts += [(t, [(s, e) for s, _, e in found]) for t, found in located]
    # Folding lengthens "İ": the offsets of the folded text no longer line up.
    turkish = "İstanbul talks failed badly. Trade rose sharply. Nobody was happy."
    texts.append((turkish, [(0, "a"), (29, "b"), (29, "a"), (50, "c")]))
    fast = sentiment.entity_scores(texts, MODEL)
    assert len(fast) > 5
    assert fast == sentiment.entity_scores(texts, SentenceOnly())  # type: ignore[arg-type]
