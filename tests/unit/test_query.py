"""The shared query language: parsing (with error positions) and explained evaluation."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.ingest.normalize import single_article
from services.query import Node, QueryDocument, QuerySyntaxError, evaluate, parse
from services.query.ast import And, Near, Not, Or
from tests.helpers import raw_event, seed_text


def seed_doc(**meta: object) -> QueryDocument:
    a = single_article(raw_event(seed_text()))
    return QueryDocument.build(a.title, a.summary, f"{a.body}\n\n{a.context}", **meta)  # type: ignore[arg-type]


def doc(title: str, summary: str = "", body: str = "", **meta: object) -> QueryDocument:
    return QueryDocument.build(title, summary, body, **meta)  # type: ignore[arg-type]


def matches(query: str, document: QueryDocument) -> bool:
    return evaluate(parse(query), document).matched


class TestParse:
    @pytest.mark.parametrize(
        ("query", "canonical"),
        [
            ("a b", "(a AND b)"),
            ("a AND b OR c", "((a AND b) OR c)"),
            ("a OR b c", "(a OR (b AND c))"),
            ("NOT a", "NOT a"),
            ("-a b", "(NOT a AND b)"),
            ('"Security Guarantee*" NEAR/10 Ukraine', '("security guarantee*" NEAR/10 ukraine)'),
            ("title:(a OR b)", "(title:a OR title:b)"),
            ('body:"x y"', 'body:"body:x body:y"'),
            ("U.S.", '"u s"'),
            (
                "entity:UA topic:ukraine-security-guarantees",
                "(entity:UA AND topic:ukraine-security-guarantees)",
            ),
            ("lang:EN source:reuters", "(lang:en AND source:reuters)"),
            ("sentiment:<-0.3", "sentiment:<-0.3"),
            ("sentiment:>=0.5", "sentiment:>=0.5"),
            ("(a OR b) NEAR/3 c", "((a OR b) NEAR/3 c)"),
        ],
    )
    def test_canonical_form(self, query: str, canonical: str) -> None:
        assert str(parse(query)) == canonical

    @pytest.mark.parametrize(
        ("query", "position", "says"),
        [
            ("", 0, "empty query"),
            ("a AND", 5, "expected a term"),
            ("(a OR b", 7, "expected ')'"),
            ('x "open', 2, "unclosed quote"),
            ("foo:bar", 0, "unknown field 'foo'"),
            ("a NEAR/0 b", 2, "NEAR distance"),
            ("a NEAR/5 (b AND c)", 8, "NEAR relates"),
            ("OR a", 0, "needs something before it"),
            ("*", 0, "wildcard needs letters"),
            ("sentiment:2", 10, "between -1 and 1"),
            ("a )", 2, "unexpected ')'"),
            ("entity:", 7, "needs a value"),
        ],
    )
    def test_errors_say_what_and_where(self, query: str, position: int, says: str) -> None:
        with pytest.raises(QuerySyntaxError) as caught:
            parse(query)
        assert caught.value.position == position
        assert says in caught.value.message

    @settings(max_examples=300, deadline=None)
    @given(st.text(max_size=60))
    def test_any_text_parses_or_raises_a_syntax_error(self, text: str) -> None:
        error: QuerySyntaxError | None = None
        try:
            node = parse(text)
        except QuerySyntaxError as exc:
            error = exc
        if error is not None:
            assert 0 <= error.position <= len(text)
        else:
            evaluate(node, doc("a b c"))  # whatever parses also evaluates


class TestEvaluate:
    def test_seed_matches_the_ukraine_security_guarantees_query(self) -> None:
        m = evaluate(parse('"security guarantee*" NEAR/10 ukrain*'), seed_doc())
        assert m.matched
        assert "security guarantees" in m.terms
        assert {"title", "body"} <= {h.field for h in m.hits}
        assert m.score == 1.0

    def test_near_is_a_word_distance_either_order(self) -> None:
        d = doc("alpha one two three beta")
        assert matches("alpha NEAR/3 beta", d)
        assert matches("beta NEAR/3 alpha", d)
        assert not matches("alpha NEAR/2 beta", d)

    def test_near_never_crosses_fields(self) -> None:
        d = doc("ends with alpha", "beta starts the summary")
        assert not matches("alpha NEAR/5 beta", d)

    def test_phrase_needs_adjacent_words_in_order(self) -> None:
        d = doc("security of the guarantees", body="guarantees security")
        assert not matches('"security guarantees"', d)
        assert matches('"guarantees security"', d)

    def test_prefix_wildcard_and_case_folding(self) -> None:
        d = doc("Sicherheitsgarantien für die UKRAINE")
        assert matches("sicherheitsgarantie*", d)
        assert matches("ukraine", d)
        assert not matches("sicherheitsgarantie", d)

    def test_field_scope(self) -> None:
        d = doc("Markets", "Ukraine mentioned in summary")
        assert matches("summary:ukraine", d)
        assert not matches("title:ukraine", d)

    def test_not_and_or(self) -> None:
        d = doc("Ukraine talks")
        assert matches("ukraine -taiwan", d)
        assert not matches("ukraine AND NOT talks", d)
        assert matches("taiwan OR talks", d)

    def test_predicates(self) -> None:
        d = doc(
            "x",
            entities=frozenset({"UA"}),
            topics=frozenset({"t1"}),
            lang="en",
            source="wire",
            sentiment=-0.5,
        )
        assert matches("entity:UA topic:t1 lang:en source:wire sentiment:<-0.3", d)
        assert not matches("sentiment:>0", d)
        assert not matches("entity:US", d)
        assert not matches("sentiment:<0", doc("no sentiment known"))

    def test_hits_quote_the_original_text(self) -> None:
        m = evaluate(parse("u.s. NEAR/3 president"), seed_doc())
        assert "U.S" in [h.text for h in m.hits]

    def test_no_match_no_score(self) -> None:
        m = evaluate(parse("taiwan"), seed_doc())
        assert (m.matched, m.score, m.hits) == (False, 0.0, ())


def test_near_reaches_a_long_phrase_that_starts_far_before() -> None:
    words = " ".join(f"w{i}" for i in range(12))
    d = doc(f"{words} target")
    assert matches(f'"{words}" NEAR/1 target', d)
    assert matches(f'target NEAR/1 "{words}"', d)


class TestPrefilter:
    """A query never matches a document holding none of its trigger words."""

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ("ukraine", {("ukraine", False)}),
            ('"security guarantee*" NEAR/5 ukrain*', {("security", False)}),
            ("a OR b*", {("a", False), ("b", True)}),
            ("(a OR b) AND c", {("c", False)}),
            ("lang:en AND (x OR y)", {("x", False), ("y", False)}),
            ("NOT a", None),
            ("a OR NOT b", None),
            ("entity:UA", None),
        ],
    )
    def test_triggers(self, query: str, expected: set[tuple[str, bool]] | None) -> None:
        from services.query.prefilter import triggers

        found = triggers(parse(query))
        assert (None if found is None else set(found)) == expected

    @settings(max_examples=200, deadline=None)
    @given(st.text(alphabet='abc ANDORT()"*-:', max_size=30), st.text(alphabet="abc ", max_size=30))
    def test_never_skips_a_real_match(self, query: str, text: str) -> None:
        from services.query.prefilter import may_match, triggers

        try:
            node = parse(query)
        except QuerySyntaxError:
            return
        d = doc(text)
        if evaluate(node, d).matched:
            assert may_match(triggers(node), d)

    @settings(max_examples=200, deadline=None)
    @given(st.text(alphabet='abc ANDORT()"*-:', max_size=30), st.text(alphabet="abc ", max_size=30))
    def test_trigger_test_agrees_with_may_match(self, query: str, text: str) -> None:
        """Enrich's split form (whole words in one set operation, then prefixes)."""
        from services.query.prefilter import TriggerTest, may_match, triggers

        try:
            found = triggers(parse(query))
        except QuerySyntaxError:
            return
        d = doc(text)
        assert TriggerTest.of(found).passes(d) == may_match(found, d)

    @settings(max_examples=300, deadline=None)
    @given(
        st.text(alphabet='abc ANDORTE()"*-:/1', max_size=30), st.text(alphabet="abc ", max_size=30)
    )
    def test_required_words_never_skip_a_real_match(self, query: str, text: str) -> None:
        """Enrich's stronger prefilter (every side of a NEAR, every part of an AND)."""
        from services.enrich.taxonomy import required_words
        from services.query.prefilter import TriggerTest

        try:
            node = parse(query)
        except QuerySyntaxError:
            return
        d = doc(text)
        if evaluate(node, d).matched:
            assert all(TriggerTest.of(found).passes(d) for found in required_words(node))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_words_and_offsets_agree(text: str) -> None:
    """Evidence offsets come from words_with_offsets(); each must cut out its own word."""
    from services.query.text import words, words_with_offsets

    found, starts, ends = words_with_offsets(text)
    assert found == words(text)
    assert len(starts) == len(ends) == len(found)
    for word, start, end in zip(found, starts, ends, strict=True):
        assert text[start:end].casefold().replace("’", "'") == word


@pytest.mark.parametrize(
    ("query", "canonical"),
    [
        ("entity:person:keir-starmer", "entity:person:keir-starmer"),
        (
            "entity:org:nato OR source:news.example.com",
            "(entity:org:nato OR source:news.example.com)",
        ),
        ("(entity:UA)", "entity:UA"),
    ],
)
def test_predicate_values_may_hold_colons_and_dots(query: str, canonical: str) -> None:
    assert str(parse(query)) == canonical


_WORDS = ["a", "b", "ab", "abc", "ba", "c"]


def _positional(draw: st.DrawFn, depth: int) -> str:
    """A term, prefix, phrase, scoped term, OR or NEAR (the last two nest)."""
    pick = draw(st.integers(0, 5 if depth < 2 else 3))
    word = draw(st.sampled_from(_WORDS))
    if pick == 0:
        return word
    if pick == 1:
        return word[:1] + "*"
    if pick == 2:
        return '"' + " ".join(draw(st.lists(st.sampled_from(_WORDS), min_size=2, max_size=3))) + '"'
    if pick == 3:
        return f"{draw(st.sampled_from(['title', 'summary', 'body']))}:{word}"
    left, right = _positional(draw, depth + 1), _positional(draw, depth + 1)
    if pick == 4:
        return f"({left} OR {right})"
    return f"({left} NEAR/{draw(st.integers(1, 4))} {right})"


@st.composite
def _queries(draw: st.DrawFn) -> str:
    parts = [_positional(draw, 0) for _ in range(draw(st.integers(1, 3)))]
    return draw(st.sampled_from([" AND ", " OR ", " AND NOT "])).join(parts)


def _field_words(least: int, most: int) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from([*_WORDS, "x"]), min_size=least, max_size=most).map(" ".join)


@settings(max_examples=500, deadline=None)
@given(_queries(), _field_words(0, 5), _field_words(0, 5), _field_words(4, 20))
def test_boolean_matches_answers_as_evaluate(
    query: str, title: str, summary: str, body: str
) -> None:
    """``matches`` (no evidence, early exit) answers exactly as ``evaluate(...).matched``."""
    from services.query.evaluate import matches as boolean_matches

    try:
        node = parse(query)
    except QuerySyntaxError:
        return  # e.g. NEAR over a field scope
    d = doc(title, summary, body)
    for part in _subtrees(node):  # every NEAR inside too, not only the whole query's answer
        assert boolean_matches(part, d) == evaluate(part, d).matched, str(part)


@st.composite
def _near_queries(draw: st.DrawFn) -> str:
    """NEAR of terms, prefixes, OR-groups of those, or phrases: the percolator's fast path."""

    def side() -> str:
        words = draw(st.lists(st.sampled_from(_WORDS), min_size=1, max_size=3))
        shape = draw(st.sampled_from(["term", "prefix", "or", "phrase"]))
        if shape == "prefix":
            return words[0][:1] + "*"
        if shape == "or":
            return "(" + " OR ".join(words) + ")"
        return '"' + " ".join(words) + '"' if shape == "phrase" else words[0]

    return f"{side()} NEAR/{draw(st.integers(1, 3))} {side()}"


@settings(max_examples=500, deadline=None)
@given(_near_queries(), _field_words(0, 4), _field_words(0, 4), _field_words(0, 8))
def test_boolean_near_answers_as_evaluate(query: str, title: str, summary: str, body: str) -> None:
    """Short fields: pairs within reach across a field's end are common here."""
    from services.query.evaluate import matches as boolean_matches

    node, d = parse(query), doc(title, summary, body)
    assert boolean_matches(node, d) == evaluate(node, d).matched


def _subtrees(node: Node) -> list[Node]:
    if isinstance(node, And | Or):
        return [node, *(n for child in node.children for n in _subtrees(child))]
    if isinstance(node, Near):
        return [node, *_subtrees(node.left), *_subtrees(node.right)]
    if isinstance(node, Not):
        return [node, *_subtrees(node.child)]
    return [node]
