"""Sentiment (document, per entity, reliability by language) and keyphrases."""

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

    def test_other_languages_are_neutral_and_unreliable(self) -> None:
        [fr, _] = normalize(fixture_event("feed/atom.xml"), NormalizePolicy()).articles
        e = enrich(fr, TAXONOMY, GAZETTEER)
        assert fr.language == "fr"
        assert (e.sentiment.score, e.sentiment.label, e.sentiment.reliable) == (
            0.0,
            "neutral",
            False,
        )
        assert all(m.sentiment is None for m in e.entities)

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
