"""The percolator finds every subscription the naive loop would, from an index."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.notify.percolator import Percolator, query_keys
from services.notify.subscriptions import Subscription, SubscriptionIndex, match_naive
from services.query import QueryDocument, QuerySyntaxError, evaluate, parse
from tests.helpers import sample_text, seed_text
from tests.unit.test_notify import NOW, enriched_of


@pytest.mark.parametrize(
    ("query", "keys"),
    [
        ("ukraine", {("word", "ukraine")}),
        ("guarantee*", {("prefix", "guarantee")}),
        ('"security guarantees" NEAR/5 kyiv', {("word", "security")}),
        ("entity:UA AND sentiment:<0", {("entity", "UA")}),
        ("(a OR b) lang:en", {("word", "a"), ("word", "b")}),  # lang:en selects everything
        ("topic:t1 OR source:wire", {("topic", "t1"), ("source", "wire")}),
        ("NOT a", None),
        ("sentiment:<-0.5", None),
    ],
)
def test_query_keys(query: str, keys: set[tuple[str, str]] | None) -> None:
    found = query_keys(parse(query))
    assert (None if found is None else set(found)) == keys


SUBSCRIPTIONS = [
    Subscription(id="topics", name="t", topics=["ukraine-security-guarantees"]),
    Subscription(id="words", name="w", query='"security guarantee*" NEAR/10 ukrain*'),
    Subscription(id="entity", name="e", query="entity:person:keir-starmer"),
    Subscription(id="lang", name="l", query="lang:en AND (heatwave OR wildfire*)"),
    Subscription(id="negative", name="n", query="sentiment:<-0.5"),
    Subscription(id="other", name="o", query="taiwan OR semiconductor*"),
    Subscription(id="both", name="b", topics=["central-banks"], query="inflation"),
]


@pytest.mark.parametrize(
    "text",
    [
        seed_text(),
        *(
            sample_text(n)
            for n in ("ecb-holds-rates.txt", "spain-heatwave.txt", "pacific-security-pact.txt")
        ),
    ],
)
def test_same_alerts_as_the_naive_loop(text: str) -> None:
    e = enriched_of(text)
    indexed = SubscriptionIndex(SUBSCRIPTIONS).match(e, NOW)
    assert indexed == sorted(match_naive(e, SUBSCRIPTIONS, NOW), key=lambda a: a.subscription_id)


def test_candidates_skip_what_cannot_match() -> None:
    e = enriched_of(sample_text("spain-heatwave.txt"))
    from services.query.article import enriched_document

    found = SubscriptionIndex(SUBSCRIPTIONS).percolator.candidates(enriched_document(e))
    assert "other" not in found  # no taiwan, no semiconductor* in the article
    assert "negative" in found  # sentiment-only: checked against every article
    assert "lang" in found


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet='abcd ANDORT()"*-:', max_size=30),
    st.text(alphabet="abcd ", max_size=40),
)
def test_never_misses_a_match(query: str, text: str) -> None:
    try:
        rule = parse(query)
    except QuerySyntaxError:
        return
    doc = QueryDocument.build(text)
    percolator = Percolator()
    percolator.add("s", [], rule)
    if evaluate(rule, doc).matched:
        assert "s" in percolator.candidates(doc)


class TestSentimentOnly:
    """Threshold-only subscriptions are selected by bisection, exactly as evaluation would."""

    @pytest.mark.parametrize("score", [-0.9, -0.5, -0.3, 0.0, 0.3, 0.7])
    def test_selected_iff_satisfied(self, score: float) -> None:
        queries = [
            "sentiment:<-0.5",
            "sentiment:<=-0.3",
            "sentiment:>0.3",
            "sentiment:>=0",
            "sentiment:=0",
        ]
        percolator = Percolator()
        for i, q in enumerate(queries):
            percolator.add(f"s{i}", [], parse(q))
        doc = QueryDocument.build("x", sentiment=score)
        expected = {f"s{i}" for i, q in enumerate(queries) if evaluate(parse(q), doc).matched}
        assert percolator.candidates(doc) == expected


def test_phrase_words_apart_are_not_candidates() -> None:
    percolator = Percolator()
    percolator.add("p", [], parse('"security guarantees"'))
    assert percolator.candidates(QueryDocument.build("guarantees of security")) == set()
    assert percolator.candidates(QueryDocument.build("new security guarantees")) == {"p"}
