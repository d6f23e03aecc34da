"""Words a query cannot match without: a cheap test before the full evaluation.

``triggers(node)`` is a set of (word, is-prefix) of which at least one must occur in any
document the query matches, or None when no such set exists (a query that is only NOT, or
only metadata predicates). Enrich skips a topic whose triggers are all absent; notify's
percolator (issue 6) indexes subscriptions by them.
"""

from dataclasses import dataclass

from services.query.ast import And, Has, Near, Node, Not, Or, Phrase, Sentiment, Term
from services.query.document import QueryDocument

Trigger = tuple[str, bool]


def triggers(node: Node) -> frozenset[Trigger] | None:
    if isinstance(node, Term):
        # A leading wildcard's word may hide inside another: no whole word or prefix to test.
        return None if node.infix else frozenset({(node.text, node.prefix)})
    if isinstance(node, Phrase):
        first = node.words[0]
        return frozenset({(first.text, first.prefix)})
    if isinstance(node, Near):
        return triggers(node.left)  # both sides must match; either side's words will do
    if isinstance(node, Or):
        union: set[Trigger] = set()
        for child in node.children:
            found = triggers(child)
            if found is None:
                return None  # that branch can match without any word
            union |= found
        return frozenset(union)
    if isinstance(node, And):
        # Every child must match: the smallest child trigger set is the most selective.
        options = [t for t in (triggers(c) for c in node.children) if t is not None]
        return min(options, key=len) if options else None
    if isinstance(node, Not | Has | Sentiment):
        return None
    raise TypeError(f"not a query node: {node!r}")


def may_match(found: frozenset[Trigger] | None, doc: QueryDocument) -> bool:
    if found is None:
        return True
    return any(doc.contains(word, prefix) for word, prefix in found)


@dataclass(frozen=True)
class TriggerTest:
    """``may_match`` for one trigger set, split for speed: whole words are tested against the
    document's vocabulary in one set operation, prefixes one by one (a bisection each)."""

    words: frozenset[str]
    prefixes: tuple[str, ...]
    always: bool = False

    @classmethod
    def of(cls, found: frozenset[Trigger] | None) -> "TriggerTest":
        if found is None:
            return cls(frozenset(), (), always=True)
        words = frozenset(word for word, prefix in found if not prefix)
        return cls(words, tuple(sorted(word for word, prefix in found if prefix)))

    def passes(self, doc: QueryDocument) -> bool:
        if self.always or doc.has_any(self.words):
            return True
        return any(doc.contains(prefix, True) for prefix in self.prefixes)
