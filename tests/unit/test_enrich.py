"""enrich's pure parts: topic rules, the near-window, sentiment."""

import pytest

from schemas.enriched import EnrichedArticle
from services.enrich import sentiment
from services.enrich.settings import DEFAULT_TAXONOMY
from services.enrich.step import enrich
from services.enrich.taxonomy import _min_window, load_taxonomy
from services.ingest.normalize import single_article
from tests.helpers import raw_event, sample_text, seed_text

TAXONOMY = load_taxonomy(DEFAULT_TAXONOMY)


def enriched(text: str) -> EnrichedArticle:
    return enrich(single_article(raw_event(text)), TAXONOMY)


class TestTopicTags:
    def test_seed_is_tagged_ukraine_security_guarantees_and_us_uk(self) -> None:
        tags = {t.id: t for t in enriched(seed_text()).topics}
        assert "ukraine-security-guarantees" in tags
        assert "us-uk-relations" in tags
        assert "security guarantees" in tags["ukraine-security-guarantees"].matched
        assert 0.5 <= tags["ukraine-security-guarantees"].score <= 1.0

    def test_security_guarantees_for_another_country_are_not_ukraines(self) -> None:
        # Mentions Ukraine, but far from its "security guarantees".
        ids = {t.id for t in enriched(sample_text("pacific-security-pact.txt")).topics}
        assert "ukraine-security-guarantees" not in ids

    def test_ukraine_without_security_guarantees_is_not_tagged(self) -> None:
        ids = {t.id for t in enriched(sample_text("ukraine-grain-exports.txt")).topics}
        assert "ukraine-security-guarantees" not in ids

    @pytest.mark.parametrize(
        ("sample", "topic"),
        [
            ("ecb-holds-rates.txt", "central-banks"),
            ("spain-heatwave.txt", "climate-extreme-weather"),
        ],
    )
    def test_other_samples_get_their_topic(self, sample: str, topic: str) -> None:
        assert topic in {t.id for t in enriched(sample_text(sample)).topics}

    def test_acronyms_are_case_sensitive_and_word_bounded(self) -> None:
        # "UK" must not match inside "Ukraine" nor as the word "uk" in lower case.
        text = "Ukraine talks\n2025-01-01 00:00- Trump spoke about Ukraine; uk is not UK.\n"
        us_uk = next(t for t in enriched(text).topics if t.id == "us-uk-relations")
        assert us_uk.matched == ["trump", "uk"]


class TestMinWindow:
    def test_smallest_span_holding_every_group(self) -> None:
        assert _min_window([[1, 50], [10, 52]]) == 2
        assert _min_window([[5], [1, 9], [7]]) == 4  # 5, 7 and 9

    def test_missing_group(self) -> None:
        assert _min_window([[1], []]) is None


class TestSentiment:
    def test_score_and_label_agree(self) -> None:
        s = enriched(seed_text()).sentiment
        assert -1.0 <= s.score <= 1.0
        assert s.method == sentiment.METHOD
        expected = "positive" if s.score >= 0.05 else "negative" if s.score <= -0.05 else "neutral"
        assert s.label == expected

    def test_negative_news_scores_negative(self) -> None:
        text = (
            "Deadly floods kill dozens\n"
            "2025-01-01 00:00- Tragic disaster leaves families devastated.\n"
        )
        assert enriched(text).sentiment.label == "negative"
