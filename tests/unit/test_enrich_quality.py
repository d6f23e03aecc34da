"""Enrich accuracy on the labelled set (tests/eval/articles.yaml) must not regress.

Floors sit a little below the values measured when they were set (bench/enrich_quality.py;
README "Enrich accuracy"). Sentiment is also held to a floor on tests/eval/sentiment_heldout.yaml,
a set the model was not tuned on (docs/sentiment.md).
"""

from typing import Any

import pytest

from bench.enrich_quality import (
    Confusion,
    Report,
    evaluate_sentiment,
    evaluate_set,
    per_language,
)


@pytest.fixture(scope="module")
def report() -> Report:
    return evaluate_set()


def test_the_set_is_big_enough(report: Report) -> None:
    assert report.articles >= 60


def test_topics(report: Report) -> None:
    assert report.macro_f1 >= 0.90  # measured 0.924
    usg = report.topics["ukraine-security-guarantees"]
    assert usg.precision >= 0.95  # measured 1.00
    assert usg.recall >= 0.95  # measured 1.00


def test_entities(report: Report) -> None:
    assert report.entities.f1 >= 0.94  # measured 0.967
    assert report.entities.precision >= 0.95  # measured 0.979


def test_sentiment(report: Report) -> None:
    assert report.sentiment_accuracy >= 0.76  # measured 0.786; target 0.75
    assert report.sentiment.accuracy == report.sentiment_accuracy


def test_sentiment_held_out() -> None:
    heldout: Confusion = evaluate_sentiment()
    assert heldout.total >= 60
    assert heldout.accuracy >= 0.79  # measured 0.819; target 0.75


def test_story_clustering(report: Report) -> None:
    assert report.stories.precision >= 0.95  # measured 1.00
    assert report.stories.recall >= 0.60  # measured 0.667


@pytest.fixture(scope="module")
def languages(report: Report) -> dict[str, dict[str, Any]]:
    return per_language(report)


def test_every_supported_language_has_an_eval_set(languages: dict[str, dict[str, Any]]) -> None:
    assert set(languages) == {"de", "fr", "es", "it", "pl", "uk", "ru"}
    assert all(d["articles"] >= 8 for d in languages.values())
    assert all(not d["misdetected_language"] for d in languages.values())


@pytest.mark.parametrize("code", ["de", "fr", "es", "it", "pl", "uk", "ru"])
def test_issue_10_targets_per_language(languages: dict[str, dict[str, Any]], code: str) -> None:
    """Within 0.05 of English for topic precision/recall and entity F1, and
    ukraine-security-guarantees precision and recall >= 0.9 (measured: all 1.00; topic
    precision 0.844-0.882 against English 0.890, the thinnest margin Italian's)."""
    assert languages[code]["targets_met"] == dict.fromkeys(
        ("topic_precision", "topic_recall", "entity_f1", "usg_precision", "usg_recall"), True
    )
