"""enrich's pure parts: topic rules, the near-window, sentiment."""

from pathlib import Path

import pytest

from schemas.enriched import EnrichedArticle
from services.enrich.entities import load_gazetteer
from services.enrich.settings import DEFAULT_GAZETTEER, DEFAULT_TAXONOMY
from services.enrich.step import enrich
from services.enrich.taxonomy import load_taxonomy
from services.ingest.normalize import single_article
from services.query import QuerySyntaxError
from tests.helpers import raw_event, sample_text, seed_text

TAXONOMY = load_taxonomy(DEFAULT_TAXONOMY)
GAZETTEER = load_gazetteer(DEFAULT_GAZETTEER)


def enriched(text: str) -> EnrichedArticle:
    return enrich(single_article(raw_event(text)), TAXONOMY, GAZETTEER)


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
            ("spain-heatwave.txt", "extreme-weather"),
        ],
    )
    def test_other_samples_get_their_topic(self, sample: str, topic: str) -> None:
        assert topic in {t.id for t in enriched(sample_text(sample)).topics}

    def test_words_are_bounded(self) -> None:
        """ "uk" must not match inside "Ukraine"."""
        text = "Ukraine talks\n2025-01-01 00:00- Trump spoke about Ukraine.\n"
        assert "us-uk-relations" not in {t.id for t in enriched(text).topics}

    def test_tags_carry_evidence_and_the_taxonomy_version(self) -> None:
        e = enriched(seed_text())
        tag = next(t for t in e.topics if t.id == "ukraine-security-guarantees")
        assert {"title", "body"} <= {ev.field for ev in tag.evidence}
        assert any(ev.text.lower() == "security guarantees" for ev in tag.evidence)
        assert e.taxonomy_version == TAXONOMY.version


class TestTaxonomyFile:
    def test_ships_at_least_25_topics_all_parsed(self) -> None:
        assert len(TAXONOMY.topics) >= 25
        assert len({t.spec.id for t in TAXONOMY.topics}) == len(TAXONOMY.topics)
        assert all(t.spec.description for t in TAXONOMY.topics)

    def test_a_broken_rule_fails_at_load(self, tmp_path: Path) -> None:
        path = tmp_path / "t.yaml"
        path.write_text(
            'version: "1"\ntopics:\n  - {id: x, label: X, description: d, query: "a AND"}\n'
        )
        with pytest.raises(QuerySyntaxError):
            load_taxonomy(path)


class TestSentiment:
    def test_score_and_label_agree(self) -> None:
        s = enriched(seed_text()).sentiment
        assert -1.0 <= s.score <= 1.0
        assert s.method == "vader:title+summary"
        assert s.reliable
        expected = "positive" if s.score >= 0.05 else "negative" if s.score <= -0.05 else "neutral"
        assert s.label == expected

    def test_negative_news_scores_negative(self) -> None:
        text = (
            "Deadly floods kill dozens\n"
            "2025-01-01 00:00- Tragic disaster leaves families devastated.\n"
        )
        assert enriched(text).sentiment.label == "negative"
