"""Sentiment in German and French (MultilingualModel), English unchanged, other languages
unreliable; accuracy floors on tests/eval/sentiment_multilingual.yaml."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from schemas.article import Article
from services.enrich import sentiment
from services.enrich.entities import load_gazetteer
from services.enrich.settings import DEFAULT_GAZETTEER, DEFAULT_TAXONOMY
from services.enrich.step import default_model, enrich
from services.enrich.taxonomy import load_taxonomy
from services.ingest.normalize import single_article
from tests.helpers import raw_event

EVAL = Path(__file__).parents[1] / "eval" / "sentiment_multilingual.yaml"
HELDOUT = EVAL.with_name("sentiment_multilingual_heldout.yaml")
MODEL = sentiment.MultilingualModel()
VADER = sentiment.VaderModel()

# Measured (docs/work-notes/sentiment-ml.md); floors just below. The development set: with
# the news supplements (written after its first measurement) and as the packages ship them;
# the held-out set, written after the supplements, 16 items a language.
FLOORS = {"en": 0.93, "de": 0.81, "fr": 0.87}
FLOORS_AS_SHIPPED = {"de": 0.62, "fr": 0.68}
FLOORS_HELDOUT = {"de": 0.56, "fr": 0.81}


def items(language: str, path: Path = EVAL) -> list[dict[str, object]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return list(data["languages"][language])


def accuracy(model: sentiment.SentimentModel, cases: list[dict[str, object]]) -> float:
    right = 0
    for item in cases:
        summary = [str(s) for s in item["summary"]]  # type: ignore[attr-defined]
        value = round(model.document(str(item["title"]), summary), 4)
        right += sentiment.label(value) == item["gold"]
    return right / len(cases)


def model_for(language: str) -> sentiment.SentimentModel:
    chosen = MODEL.for_language(language)
    assert chosen is not None
    return chosen


@pytest.mark.parametrize("language", sorted(FLOORS))
def test_accuracy_on_the_labelled_set(language: str) -> None:
    cases = items(language)
    assert len(cases) >= 12
    assert accuracy(model_for(language), cases) >= FLOORS[language]


@pytest.mark.parametrize("language", sorted(FLOORS_AS_SHIPPED))
def test_accuracy_of_the_lexicons_as_shipped(language: str) -> None:
    model = sentiment.LexiconModel.for_language(language, news=False)
    assert accuracy(model, items(language)) >= FLOORS_AS_SHIPPED[language]


@pytest.mark.parametrize("language", sorted(FLOORS_HELDOUT))
def test_accuracy_on_the_held_out_set(language: str) -> None:
    cases = items(language, HELDOUT)
    assert accuracy(model_for(language), cases) >= FLOORS_HELDOUT[language]


def test_english_is_vader_unchanged() -> None:
    english = model_for("en")
    assert isinstance(english, sentiment.VaderModel)
    for item in items("en"):
        summary = [str(s) for s in item["summary"]]  # type: ignore[attr-defined]
        title = str(item["title"])
        assert english.document(title, summary) == VADER.document(title, summary)
    assert MODEL.sentence("Ministers praised the deal.") == VADER.sentence(
        "Ministers praised the deal."
    )


@pytest.mark.parametrize(
    ("language", "positive", "negated"),
    [
        ("de", "Die Lage ist gut.", "Die Lage ist nicht gut."),
        ("de", "Ein Erfolg für die Regierung.", "Kein Erfolg für die Regierung."),
        ("fr", "C'est bon.", "Ce n'est pas bon."),
        ("fr", "La situation est bonne.", "La situation n'est pas bonne."),
    ],
)
def test_negation_flips_the_tone(language: str, positive: str, negated: str) -> None:
    model = model_for(language)
    assert model.sentence(positive) > 0.05
    assert model.sentence(negated) < -0.05


def test_french_ne_pas_is_one_negation_not_two() -> None:
    # "n'" and "pas" both precede "bonne": flipped once, not flipped back.
    assert model_for("fr").sentence("n'est pas bonne") < 0


def test_german_inflection_and_compounds() -> None:
    german = model_for("de")
    assert german.sentence("gute Nachrichten") > 0  # "gut" + e
    assert german.sentence("Raketenangriff") < 0  # ... ends in "Angriff"
    assert german.sentence("Am Dienstag tagte der Ausschuss.") == 0.0


def test_spanish_has_no_packaged_lexicon_so_it_stays_unreliable() -> None:
    assert MODEL.for_language("es") is None
    assert "es" not in MODEL.languages
    spanish = Article.model_validate(
        {
            **single_article(raw_event("T\n2025-01-01 00:00- x\n")).model_dump(),
            "title": "La situación no es buena",
            "summary": [],
            "language": "es",
        }
    )
    tone = sentiment.score(spanish, MODEL)
    assert (tone.score, tone.label, tone.reliable) == (0.0, "neutral", False)
    assert tone.method == "multilingual:title+summary"


def test_method_names_the_model_that_scored() -> None:
    base = single_article(raw_event("T\n2025-01-01 00:00- x\n")).model_dump()
    for language, method in [
        ("en", "vader:title+summary"),
        (None, "vader:title+summary"),
        ("de", "textblob-de+news:title+summary"),
        ("fr", "textblob-fr+news:title+summary"),
    ]:
        article = Article.model_validate(
            {**base, "title": "Krieg", "summary": [], "language": language}
        )
        assert sentiment.score(article, MODEL).method == method


def test_german_articles_get_sentiment_and_entity_scores_through_enrich() -> None:
    text = (
        "Schwere Angriffe auf Kiew\n2025-03-01 09:00- Bei schweren Angriffen auf Kiew wurden "
        "viele Menschen verletzt. Selenskyj verurteilte die brutalen Angriffe scharf.\n"
    )
    article = single_article(raw_event(text))
    assert article.language == "de"
    enriched = enrich(
        article, load_taxonomy(DEFAULT_TAXONOMY), load_gazetteer(DEFAULT_GAZETTEER), MODEL
    )
    assert enriched.sentiment.reliable
    assert enriched.sentiment.label == "negative"
    assert enriched.sentiment.method == "textblob-de+news:title+summary"
    scored = [m.sentiment for m in enriched.entities if m.sentiment is not None]
    assert scored
    assert all(value < 0 for value in scored)


def test_entity_scores_take_an_explicit_language() -> None:
    text = "Macron ist gut."
    mentions = [(0, "person:emmanuel-macron")]
    german = sentiment.entity_scores([(text, mentions)], MODEL, language="de")
    english = sentiment.entity_scores([(text, mentions)], MODEL, language="en")
    assert german["person:emmanuel-macron"] > 0
    assert english["person:emmanuel-macron"] == 0.0  # "gut" is no English word


def test_it_is_the_default_and_a_built_in_name() -> None:
    assert isinstance(default_model(), sentiment.MultilingualModel)
    assert isinstance(sentiment.load_model("multilingual"), sentiment.MultilingualModel)


def test_the_lexicons_are_read_from_the_installed_packages() -> None:
    for language in sentiment.LEXICON_FILES:
        path = sentiment.lexicon_file(language)
        assert path.is_file(), path
        assert path.stat().st_size > 100_000
        assert sentiment.NEWS_SUPPLEMENTS[language].is_file()


def test_the_news_supplement_neutralises_terms_and_adds_news_words() -> None:
    shipped = sentiment.LexiconModel.for_language("fr", news=False)
    news = model_for("fr")
    assert isinstance(news, sentiment.LexiconModel)
    assert shipped.valence("graves") is not None  # +0.4 in Pattern's lexicon
    assert news.valence("graves") is None
    assert shipped.valence("inondations") is None
    assert (news.valence("inondations") or 0.0) < 0
    german = model_for("de")
    assert isinstance(german, sentiment.LexiconModel)
    assert (german.valence("raketenbeschuss") or 0.0) < 0  # a compound of a supplement noun


def test_the_lexicon_packages_are_read_not_imported() -> None:
    # Importing textblob_de would import textblob and NLTK (and NLTK may look for corpora).
    code = (
        "import sys; from services.enrich.sentiment import MultilingualModel; "
        "MultilingualModel(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'textblob', 'textblob_de', 'textblob_fr', 'nltk'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
