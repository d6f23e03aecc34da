"""Does a document match a query, and why: the spans of text that satisfied it."""

import bisect
from dataclasses import dataclass, field
from functools import cached_property

from services.query.ast import And, Has, Near, Node, Not, Or, Phrase, Sentiment, Term, TextField
from services.query.document import QueryDocument


@dataclass(frozen=True)
class Hit:
    """One piece of evidence: matched text (or a predicate) and where it stood."""

    text: str
    field: TextField | str
    start: int = -1
    end: int = -1


Span = tuple[int, int]


@dataclass(frozen=True)
class Match:
    """``pieces``: the evidence, predicates as :class:`Hit` and word spans as (start, end),
    resolved to text only when ``hits`` is read: most matches of sub-queries are discarded
    (an OR's losing branch, an AND that fails later), and text costs offsets and slicing."""

    matched: bool
    pieces: tuple[Hit | Span, ...] = ()
    doc: QueryDocument | None = field(default=None, compare=False, repr=False)

    @cached_property
    def hits(self) -> tuple[Hit, ...]:
        doc = self.doc
        if doc is None:  # a match without word spans
            return tuple(p for p in self.pieces if isinstance(p, Hit))
        return tuple(
            p if isinstance(p, Hit) else Hit(*doc.located(p[0], p[1]), *p) for p in self.pieces
        )

    @cached_property
    def texts(self) -> tuple[tuple[str, TextField | str], ...]:
        """(text, field) of each piece, as in ``hits``, without building a Hit per piece."""
        doc = self.doc
        if doc is None:
            return tuple((p.text, p.field) for p in self.pieces if isinstance(p, Hit))
        return tuple(
            (p.text, p.field) if isinstance(p, Hit) else doc.located(p[0], p[1])
            for p in self.pieces
        )

    # Cached: notify shares one Match among every subscription with the same query.
    @cached_property
    def terms(self) -> list[str]:
        return sorted({text.casefold() for text, _ in self.texts})

    @cached_property
    def score(self) -> float:
        """0 without a match; otherwise 0.5, more with distinct evidence and title hits."""
        if not self.matched:
            return 0.0
        distinct = len(set(self.pieces))
        doc = self.doc
        in_title = doc is not None and any(
            not isinstance(p, Hit) and doc.field_of(p[0]) == "title" for p in self.pieces
        )
        return round(min(1.0, 0.5 + 0.05 * distinct + (0.2 if in_title else 0.0)), 3)


def _spans(node: Node, doc: QueryDocument) -> list[Span]:
    """Word spans [start, end) where a positional node matches (memoised per document)."""
    # Keyed by identity: hashing a deep frozen node costs more than the lookup saves. The
    # entry holds the node itself, so its id cannot be reused while the document lives.
    entry = doc.span_cache.get(id(node))
    if entry is not None and entry[0] is node:
        return entry[1]
    spans = _compute_spans(node, doc)
    doc.span_cache[id(node)] = (node, spans)
    return spans


def _compute_spans(node: Node, doc: QueryDocument) -> list[Span]:
    if isinstance(node, Term):
        found = doc.term_positions(node.text, node.prefix, node.infix)
        if node.field == "any":
            return [(p, p + 1) for p in found]
        return [(p, p + 1) for p in found if doc.in_field(p, node.field)]
    if isinstance(node, Phrase):
        first, *rest = node.words
        out = []
        for p in doc.positions(first.text, first.prefix):
            if not doc.in_field(p, node.field):
                continue
            if p + len(rest) >= doc.field_end(p):
                continue  # a phrase never runs across fields
            ok = True
            for k, w in enumerate(rest, start=1):
                word = doc.words[p + k]
                if not (word.startswith(w.text) if w.prefix else word == w.text):
                    # An unaccented query word also matches the accented spelling.
                    plain = doc.plain[p + k] if doc.plain is not None else word
                    if plain is word or not (
                        plain.startswith(w.text) if w.prefix else plain == w.text
                    ):
                        ok = False
                        break
            if ok:
                out.append((p, p + len(node.words)))
        return out
    if isinstance(node, Or):
        union: set[Span] = set()
        for child in node.children:
            if isinstance(child, Term) and child.field == "any":
                # A bare word's spans straight from its positions: memoising each cost as much.
                found = doc.term_positions(child.text, child.prefix, child.infix)
                union.update([(p, p + 1) for p in found])
            elif not _absent(child, doc):
                union.update(_spans(child, doc))
        return sorted(union)
    return []


def _absent(node: Node, doc: QueryDocument) -> bool:
    """A word or phrase whose (first) whole word is not in the document: it cannot match.
    One dictionary lookup, where evaluating it builds spans and a Match; most branches of a
    taxonomy rule's ORs are absent from any one article."""
    first = node if isinstance(node, Term) else node.words[0] if isinstance(node, Phrase) else None
    return (
        first is not None and not first.prefix and not first.infix and not doc.has_word(first.text)
    )


def _near(node: Near, doc: QueryDocument) -> "Outcome":
    left = _spans(node.left, doc)
    right = _spans(node.right, doc) if left else []
    used: set[Span] = set()
    starts = [s for s, _ in right]
    longest = max((e - s for s, e in right), default=1)
    for ls in left:
        field_range = doc.field_ranges[doc.field_of(ls[0])]
        # Right spans starting within reach of this left span (sorted: bisect, not a scan).
        lo = bisect.bisect_left(starts, max(field_range[0], ls[0] - node.distance - longest))
        hi = bisect.bisect_right(starts, min(field_range[1], ls[1] + node.distance))
        for rs in right[lo:hi]:
            if not field_range[0] <= rs[0] < field_range[1]:
                continue
            # Words between the two spans, either order; overlapping spans are distance 0.
            gap = max(rs[0] - ls[1], ls[0] - rs[1], 0)
            if gap <= node.distance:
                used.update((ls, rs))
    return bool(used), tuple(sorted(used))


def _compare(value: float, op: str, threshold: float) -> bool:
    return {
        "<": value < threshold,
        "<=": value <= threshold,
        ">": value > threshold,
        ">=": value >= threshold,
        "=": value == threshold,
    }[op]


def evaluate(node: Node, doc: QueryDocument) -> Match:
    matched, pieces = _evaluate(node, doc)
    return Match(matched, pieces, doc)


# (matched, pieces) of a sub-query: plain tuples inside the recursion, one Match at the top
# (a frozen dataclass per node cost more than the node's own test).
Outcome = tuple[bool, tuple[Hit | Span, ...]]


def _evaluate(node: Node, doc: QueryDocument) -> Outcome:
    if isinstance(node, (Term, Phrase)):
        spans = _spans(node, doc)
        return bool(spans), tuple(spans)
    if isinstance(node, Near):
        return _near(node, doc)
    if isinstance(node, And):
        pieces: list[Hit | Span] = []
        for child in node.children:
            matched, found = _evaluate(child, doc)
            if not matched:
                return False, ()
            pieces.extend(found)
        return True, tuple(pieces)
    if isinstance(node, Or):
        any_matched = False
        pieces = []
        for child in node.children:
            if isinstance(child, Term) and child.field == "any":
                at = doc.term_positions(child.text, child.prefix, child.infix)
                spans = [(p, p + 1) for p in at]
                if spans:
                    any_matched = True
                    pieces.extend(spans)
                continue
            if _absent(child, doc):
                continue
            matched, found = _evaluate(child, doc)
            if matched:
                any_matched = True
                pieces.extend(found)
        return any_matched, tuple(pieces)
    if isinstance(node, Not):
        return not _evaluate(node.child, doc)[0], ()
    if isinstance(node, Has):
        have = {
            "entity": doc.entities,
            "topic": doc.topics,
            "lang": {doc.lang} if doc.lang else set(),
            "source": {doc.source} if doc.source else set(),
        }[node.kind]
        ok = node.value in have
        return ok, (Hit(str(node), node.kind),) if ok else ()
    if isinstance(node, Sentiment):
        ok = doc.sentiment is not None and _compare(doc.sentiment, node.op, node.value)
        return ok, (Hit(str(node), "sentiment"),) if ok else ()
    raise TypeError(f"not a query node: {node!r}")


def _single_word_positions(node: Node, doc: QueryDocument) -> list[int] | None:
    """Where ``node`` matches, as word positions, when every match of it is one word long
    and it has no field scope (a term, or an OR of such); None for anything else."""
    if isinstance(node, Term):
        if node.field != "any":
            return None
        return doc.term_positions(node.text, node.prefix, node.infix)
    if isinstance(node, Or):
        found: list[int] = []
        for child in node.children:
            positions = _single_word_positions(child, doc)
            if positions is None:
                return None
            found += positions
        found.sort()  # a word both children match is listed twice: harmless here
        return found
    return None


def _near_holds(node: Near, doc: QueryDocument) -> bool:
    """``_near(node, doc).matched``, stopping at the first pair within reach."""
    left = _single_word_positions(node.left, doc)
    if left is not None and not left:
        return False
    right = _single_word_positions(node.right, doc)
    if right is not None and not right:
        return False
    if left is not None and right is not None:
        # One-word spans p and q are within ``distance`` words when |p - q| <= distance + 1
        # (the same position counts: overlapping spans are distance 0); they must share a
        # field, i.e. no field starts in (min(p, q), max(p, q)].
        reach = node.distance + 1
        bounds = [start for start, _ in doc.field_ranges.values()]
        for p in left:
            i = bisect.bisect_left(right, p - reach)
            while i < len(right) and right[i] <= p + reach:
                q = right[i]
                low, high = (p, q) if p <= q else (q, p)
                if not any(low < b <= high for b in bounds):
                    return True
                i += 1
        return False
    left_spans = _spans(node.left, doc)
    right_spans = _spans(node.right, doc) if left_spans else []
    for ls in left_spans:
        start, end = doc.field_ranges[doc.field_of(ls[0])]
        for rs in right_spans:
            if start <= rs[0] < end and max(rs[0] - ls[1], ls[0] - rs[1], 0) <= node.distance:
                return True
    return False


def matches(node: Node, doc: QueryDocument) -> bool:
    """``evaluate(node, doc).matched``, without collecting evidence: for callers that need
    only the answer (notify's percolator verifies hundreds of candidate rules an article)."""
    if isinstance(node, Term):
        if node.field == "any" and not node.infix:
            return doc.contains(node.text, node.prefix)
        return bool(_spans(node, doc))
    if isinstance(node, Phrase):
        return bool(_spans(node, doc))
    if isinstance(node, Near):
        return _near_holds(node, doc)
    if isinstance(node, And):
        return all(matches(child, doc) for child in node.children)
    if isinstance(node, Or):
        return any(matches(child, doc) for child in node.children)
    if isinstance(node, Not):
        return not matches(node.child, doc)
    return evaluate(node, doc).matched  # predicates: no positions to skip
