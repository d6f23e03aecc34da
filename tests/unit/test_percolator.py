"""The percolator finds every subscription the naive loop would, from an index."""

import random
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from bench.percolate import articles as bench_articles
from bench.percolate import news_articles
from bench.percolate import subscriptions as bench_subscriptions
from schemas.enriched import EnrichedArticle
from services.notify.percolator import Percolator, query_keys
from services.notify.subscriptions import Subscription, SubscriptionIndex, match_naive
from services.query import QueryDocument, QuerySyntaxError, evaluate, parse
from services.query.text import words
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
    agrees_with_the_evaluator(query, QueryDocument.build(text))


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet='aáeé ANDORT()"*-', max_size=24),
    st.text(alphabet="aáeé ", max_size=30),
)
def test_agrees_with_the_evaluator_on_accents(query: str, text: str) -> None:
    """Accented and plain spellings (services/query/text.py), in every field."""
    agrees_with_the_evaluator(query, QueryDocument.build(text, summary=text[::-1], body=text))


def agrees_with_the_evaluator(query: str, doc: QueryDocument) -> None:
    """Candidates cover every match, and what the percolator calls certain is a match."""
    try:
        rule = parse(query)
    except QuerySyntaxError:
        return
    percolator = Percolator()
    percolator.add("s", [], rule)
    certain, _ = percolator.select_ids(doc)
    matched = evaluate(rule, doc).matched
    if matched:
        assert "s" in percolator.candidates(doc)
    if "s" in certain:
        assert matched


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


def _naive_ids(enriched: EnrichedArticle, subs: list[Subscription]) -> list[str]:
    return sorted(a.subscription_id for a in match_naive(enriched, subs, NOW))


def _matched_as_naive(
    index: SubscriptionIndex, docs: list[EnrichedArticle], subs: list[Subscription]
) -> int:
    """Asserts the index matches each article as the naive loop does; returns how many
    matches the comparison saw (a test asserts that was plenty)."""
    total = 0
    for d in docs:
        expected = _naive_ids(d, subs)
        assert index.matching(d) == expected
        total += len(expected)
    return total


def _dense_subscriptions(n: int, docs: list[EnrichedArticle], seed: int) -> list[Subscription]:
    """Rules built from the articles' own words, pairs, entities, topics and tones, every
    construct of the language, min scores and shared rules: many matches and near misses."""
    rng = random.Random(seed)
    texts = [words(f"{d.article.title} {d.article.body}") for d in docs]
    common = [w for w, _ in Counter(w for t in texts for w in set(t)).most_common(80)]
    entities = sorted({e.id for d in docs for e in d.entities})
    topics = sorted({t.id for d in docs for t in d.topics})
    tones = [d.sentiment.score for d in docs[:5]] + [-0.6, -0.2, 0.0, 0.3]

    def word() -> str:
        return rng.choice(common)

    # Last title word and first word after it: a phrase never runs across fields.
    seams = [
        [words(d.article.title)[-1], words(" ".join(d.article.summary) or d.article.body)[0]]
        for d in docs
    ]

    def adjacent(length: int) -> list[str]:
        if rng.random() < 0.05:
            return list(rng.choice(seams))
        text = rng.choice(texts)
        at = rng.randrange(max(1, len(text) - length))
        return text[at : at + length]

    def positional() -> str:
        pick = rng.random()
        if pick < 0.4:
            w = word()
            return w if rng.random() < 0.7 else f"{w[: rng.randint(3, max(3, len(w)))]}*"
        if pick < 0.8:
            phrase = adjacent(rng.choice([2, 2, 3]))
            if rng.random() < 0.2:
                phrase[-1] = phrase[-1][:3] + "*"
            return '"' + " ".join(phrase) + '"'
        return f"({word()} OR {positional()})"

    def clause(depth: int) -> str:
        pick = rng.random()
        if pick < 0.35 or depth > 2:
            text = positional()
            return f"{rng.choice(['title', 'summary', 'body'])}:{text}" if pick < 0.05 else text
        if pick < 0.5:
            kind = rng.choice(["entity", "topic", "lang", "source"])
            value = {
                "entity": rng.choice(entities),
                "topic": rng.choice(topics),
                "lang": rng.choice(["en", "de"]),
                "source": rng.choice(["wire", "daily", "times"]),
            }[kind]
            return f"{kind}:{value}"
        if pick < 0.6:
            return f"sentiment:{rng.choice(['<', '<=', '>', '>=', '='])}{rng.choice(tones):g}"
        if pick < 0.75:
            return f"({clause(depth + 1)} AND {clause(depth + 1)})"
        if pick < 0.87:
            return f"({clause(depth + 1)} OR {clause(depth + 1)})"
        if pick < 0.93:
            return f"NOT {clause(depth + 1)}"
        return f"{positional()} NEAR/{rng.randint(1, 12)} {positional()}"

    out: list[Subscription] = []
    while len(out) < n:
        if out and rng.random() < 0.2:  # another subscriber to an existing rule
            twin = rng.choice(out)
            out.append(twin.model_copy(update={"id": f"d{len(out)}", "name": "twin"}))
            continue
        fields: dict[str, Any] = {"min_score": rng.choice([0.0, 0.0, 0.0, 0.5, 0.6, 0.8])}
        if rng.random() < 0.2:
            fields["topics"] = rng.sample(topics, rng.randint(1, 2))
        if not fields.get("topics") or rng.random() < 0.5:
            fields["query"] = " AND ".join(clause(0) for _ in range(rng.randint(1, 3)))
        try:
            out.append(Subscription(id=f"d{len(out)}", name="dense", **fields))
        except ValidationError:
            continue  # e.g. NEAR over a field scope: not a query people can save
    return out


@pytest.fixture(scope="module")
def docs() -> list[EnrichedArticle]:
    """The eval set enriched, and 30 of its articles again with the opposite tone (sentiment
    thresholds met and missed on both sides)."""
    state = random.getstate()
    random.seed(3)  # the eval articles' sources are drawn at random
    try:
        docs = bench_articles()
    finally:
        random.setstate(state)
    return docs + [
        d.model_copy(update={"sentiment": d.sentiment.model_copy(update={"score": -s})})
        for d, s in zip(docs[:30], [d.sentiment.score for d in docs[:30]], strict=True)
    ]


@pytest.fixture(scope="module")
def news_docs() -> list[EnrichedArticle]:
    """News-length articles (bench/percolate.py's second shape: the seed fixture, the samples
    joined, eval articles joined to 400-700 words), and 10 again with the opposite tone."""
    docs = news_articles()
    return docs + [
        d.model_copy(update={"sentiment": d.sentiment.model_copy(update={"score": -s})})
        for d, s in zip(docs[:10], [d.sentiment.score for d in docs[:10]], strict=True)
    ]


class TestSameMatchesAsTheNaiveLoop:
    """On thousands of generated subscriptions, the index matches exactly the subscriptions
    the naive loop does, article by article, including after subscriptions change."""

    def test_bench_shaped_subscriptions(self, docs: list[EnrichedArticle]) -> None:
        subs = bench_subscriptions(3000, docs, seed=11)
        index = SubscriptionIndex(subs)
        assert _matched_as_naive(index, docs, subs) > 1000  # the comparison saw plenty of matches

    def test_dense_subscriptions_of_every_construct(self, docs: list[EnrichedArticle]) -> None:
        subs = _dense_subscriptions(3000, docs, seed=5)
        index = SubscriptionIndex(subs)
        assert _matched_as_naive(index, docs, subs) > 10_000
        for d in docs[:10]:  # whole alerts, terms and topics included
            assert index.match(d, NOW) == sorted(
                match_naive(d, subs, NOW), key=lambda a: a.subscription_id
            )

    def test_bench_shaped_subscriptions_on_news_length_articles(
        self, docs: list[EnrichedArticle], news_docs: list[EnrichedArticle]
    ) -> None:
        subs = bench_subscriptions(3000, docs, seed=11)  # the bench's vocabulary: eval words
        index = SubscriptionIndex(subs)
        assert _matched_as_naive(index, news_docs, subs) > 1000

    def test_dense_subscriptions_on_news_length_articles(
        self, news_docs: list[EnrichedArticle]
    ) -> None:
        """Rules from the long articles' own words, pairs and tones: every NEAR has many
        positions to pair, phrases and NEAR cross field ends, NOTs hit."""
        subs = _dense_subscriptions(3000, news_docs, seed=6)
        index = SubscriptionIndex(subs)
        assert _matched_as_naive(index, news_docs, subs) > 10_000
        for d in news_docs[:5]:  # whole alerts, terms and topics included
            assert index.match(d, NOW) == sorted(
                match_naive(d, subs, NOW), key=lambda a: a.subscription_id
            )

    def test_after_removals_and_replacements(self, docs: list[EnrichedArticle]) -> None:
        subs = _dense_subscriptions(2000, docs, seed=9)
        replacements = _dense_subscriptions(700, docs, seed=10)
        index = SubscriptionIndex(subs)
        live = {s.id: s for s in subs}
        for i, sub in enumerate(subs[:1400]):
            if i % 2:
                index.remove(sub.id)
                del live[sub.id]
            else:  # same id, another rule (or the same one again)
                new = replacements[i // 2].model_copy(update={"id": sub.id})
                index.upsert(new)
                live[sub.id] = new
        remaining = list(live.values())
        for d in docs[::3]:
            assert index.matching(d) == _naive_ids(d, remaining)
        fresh = SubscriptionIndex(remaining)
        assert len(index.percolator._rules) == len(fresh.percolator._rules)
