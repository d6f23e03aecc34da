"""Choosing the sentiment model by configuration (NEWSWIRE_SENTIMENT_MODEL)."""

import json
from collections.abc import Sequence

import pytest

from services.enrich import sentiment
from services.enrich.settings import EnrichSettings
from services.enrich.step import build_worker
from services.ingest.normalize import single_article
from services.runtime.worker import InputRecord, process_record
from tests.helpers import raw_event, seed_text

GERMAN = (
    "Regierung einigt sich auf neuen Haushalt\n"
    "2025-03-01 09:00- Die Koalition hat sich nach langen Verhandlungen auf den Haushalt für "
    "das kommende Jahr geeinigt. Die Opposition kritisiert die Pläne als unzureichend.\n"
)


class GermanAwareModel:
    """A stand-in for a heavier, multilingual model: fixed scores, German included."""

    name = "test-multilingual"
    languages = frozenset({"en", "de"})

    def document(self, title: str, summary: Sequence[str]) -> float:
        return -0.5

    def sentence(self, text: str) -> float:
        return -0.25


class NotAModel:
    name = "half a model"


def test_the_default_is_multilingual_with_the_news_tuned_vader_for_english() -> None:
    assert EnrichSettings().sentiment_model == "multilingual"
    model = sentiment.load_model("multilingual")
    assert isinstance(model, sentiment.MultilingualModel)
    assert isinstance(model.for_language("en"), sentiment.VaderModel)
    assert isinstance(sentiment.load_model("vader"), sentiment.VaderModel)


async def test_a_model_named_by_its_import_path_is_used_by_the_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "NEWSWIRE_SENTIMENT_MODEL", "tests.unit.test_sentiment_model:GermanAwareModel"
    )
    worker = build_worker(EnrichSettings())
    german = single_article(raw_event(GERMAN))
    assert german.language == "de"
    record = InputRecord("news.articles", 0, 0, 0, None, german.model_dump_json().encode(), [])
    result = await process_record(worker, record)
    assert result.outcome == "ok", result.reason
    [out] = [r for r in result.records if r.topic == "news.enriched"]
    assert out.value is not None
    tone = json.loads(out.value)["sentiment"]
    # The default model would say neutral and unreliable for German; this one knows German.
    assert tone == {
        "score": -0.5,
        "label": "negative",
        "method": "test-multilingual:title+summary",
        "reliable": True,
    }


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("no_such_model", "expected one of"),
        ("tests.unit.no_such_module:Model", "cannot be loaded"),
        ("tests.unit.test_sentiment_model:Missing", "cannot be loaded"),
        ("tests.unit.test_sentiment_model:NotAModel", "lacks languages, document, sentence"),
    ],
)
def test_a_wrong_model_stops_the_worker_at_start(spec: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        sentiment.load_model(spec)


def test_an_english_article_keeps_vader_scores_by_default() -> None:
    article = single_article(raw_event(seed_text()))
    assert sentiment.score(article, sentiment.load_model("vader")) == sentiment.score(article)
