"""notify's pure parts: loading subscriptions and matching them."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.enrich.entities import load_gazetteer
from services.enrich.settings import DEFAULT_GAZETTEER, DEFAULT_TAXONOMY
from services.enrich.step import enrich
from services.enrich.taxonomy import load_taxonomy
from services.ingest.normalize import single_article
from services.notify.settings import DEFAULT_SUBSCRIPTIONS
from services.notify.subscriptions import Subscription, alert_id, load_subscriptions, match
from tests.helpers import raw_event, sample_text, seed_text

TAXONOMY = load_taxonomy(DEFAULT_TAXONOMY)
GAZETTEER = load_gazetteer(DEFAULT_GAZETTEER)
NOW = datetime(2025, 3, 2, 9, 0, tzinfo=UTC)


def enriched_of(text: str):  # type: ignore[no-untyped-def]
    return enrich(single_article(raw_event(text)), TAXONOMY, GAZETTEER)


class TestMatch:
    def test_seed_gives_exactly_one_alert_for_the_default_subscription(self) -> None:
        subs = load_subscriptions(DEFAULT_SUBSCRIPTIONS)
        e = enriched_of(seed_text())
        [alert] = match(e, subs, NOW)
        assert alert.subscription_id == "sub-ukraine-security-guarantees"
        assert alert.article_id == e.article.article_id
        assert alert.title == e.article.title
        assert alert.matched_topics == ["ukraine-security-guarantees"]
        assert "security guarantees" in alert.matched_terms
        assert alert.alert_id == alert_id(alert.subscription_id, alert.article_id)
        assert alert.created_at == NOW

    @pytest.mark.parametrize(
        "sample",
        [
            "ecb-holds-rates.txt",
            "pacific-security-pact.txt",
            "spain-heatwave.txt",
            "ukraine-grain-exports.txt",
        ],
    )
    def test_unrelated_samples_give_no_alert(self, sample: str) -> None:
        assert (
            match(enriched_of(sample_text(sample)), load_subscriptions(DEFAULT_SUBSCRIPTIONS)) == []
        )

    def test_min_score_filters(self) -> None:
        e = enriched_of(seed_text())
        strict = Subscription(
            id="s", name="n", topics=["ukraine-security-guarantees"], min_score=1.0
        )
        score = next(t.score for t in e.topics if t.id == "ukraine-security-guarantees")
        assert len(match(e, [strict], NOW)) == (1 if score >= 1.0 else 0)
        lenient = strict.model_copy(update={"min_score": 0.0})
        assert len(match(e, [lenient], NOW)) == 1

    def test_one_alert_per_subscription_even_with_several_topics(self) -> None:
        e = enriched_of(seed_text())
        both = Subscription(
            id="b", name="both", topics=["ukraine-security-guarantees", "us-uk-relations"]
        )
        [alert] = match(e, [both], NOW)
        assert set(alert.matched_topics) == {"ukraine-security-guarantees", "us-uk-relations"}


class TestLoad:
    def test_duplicate_ids_rejected(self, tmp_path: Path) -> None:
        path = tmp_path / "subs.yaml"
        path.write_text(
            "subscriptions:\n"
            "  - {id: a, name: one, topics: [x]}\n"
            "  - {id: a, name: two, topics: [y]}\n"
        )
        with pytest.raises(ValueError, match="duplicate subscription ids"):
            load_subscriptions(path)

    def test_json_file_and_unknown_delivery(self, tmp_path: Path) -> None:
        path = tmp_path / "subs.json"
        path.write_text(
            '{"subscriptions": [{"id": "a", "name": "n", "topics": ["t"], "delivery": ["pager"]}]}'
        )
        with pytest.raises(ValidationError):
            load_subscriptions(path)


class TestQuerySubscriptions:
    """Subscriptions written in the shared query language, alone or with topics."""

    def sub(self, **fields: object) -> Subscription:
        return Subscription(id="q", name="q", **fields)  # type: ignore[arg-type]

    def test_a_query_alone(self) -> None:
        e = enriched_of(seed_text())
        [alert] = match(e, [self.sub(query='"security guarantee*" NEAR/10 ukrain*')], NOW)
        assert "security guarantees" in alert.matched_terms
        assert alert.matched_topics == []
        assert match(e, [self.sub(query="taiwan")], NOW) == []

    def test_query_predicates_see_enrich_output(self) -> None:
        e = enriched_of(seed_text())
        tone = e.sentiment.score
        assert match(e, [self.sub(query="topic:ukraine-security-guarantees lang:en")], NOW)
        above = self.sub(query=f"topic:us-uk-relations sentiment:>{tone - 0.1:.2f}")
        below = self.sub(query=f"topic:us-uk-relations sentiment:<{tone - 0.1:.2f}")
        assert match(e, [above], NOW)
        assert match(e, [below], NOW) == []

    def test_entity_predicates_see_enrich_entities(self) -> None:
        e = enriched_of(seed_text())
        [alert] = match(e, [self.sub(query="entity:person:keir-starmer AND entity:UA")], NOW)
        assert alert.subscription_id == "q"
        assert match(e, [self.sub(query="entity:person:emmanuel-macron")], NOW) == []

    def test_topics_and_query_must_both_hold(self) -> None:
        e = enriched_of(seed_text())
        both = self.sub(topics=["ukraine-security-guarantees"], query="starmer")
        assert len(match(e, [both], NOW)) == 1
        assert match(e, [both.model_copy(update={"query": "macron"})], NOW) == []

    def test_a_subscription_must_want_something(self) -> None:
        with pytest.raises(ValidationError, match="needs topics, a query, or both"):
            self.sub()

    def test_a_broken_query_is_rejected_with_its_position(self) -> None:
        with pytest.raises(
            ValidationError, match=r"expected a term, found end of query at character 11"
        ):
            self.sub(query="(ukraine OR")
