"""Words a query cannot match without: a cheap test before the full evaluation.

``triggers(node)`` is a set of (word, is-prefix) of which at least one must occur in any
document the query matches, or None when no such set exists (a query that is only NOT, or
only metadata predicates). Enrich skips a topic whose triggers are all absent; notify's
percolator (issue 6) indexes subscriptions by them.
"""

from dataclasses import dataclass

from services.query.ast import And, Has, Near, Node, Not, Or, Phrase, Sentiment, Term
from services.query.document import HEAD, QueryDocument

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
    # The first HEAD letters of the prefixes at least that long: a document holding none of
    # them has none of those prefixes (one set operation for a pack rule's dozens of stems).
    heads: frozenset[str] = frozenset()
    short: tuple[str, ...] = ()  # prefixes shorter than HEAD, tested one by one
    long: tuple[str, ...] = ()  # the others, tested one by one once a head is present

    @classmethod
    def of(cls, found: frozenset[Trigger] | None) -> "TriggerTest":
        if found is None:
            return cls(frozenset(), (), always=True)
        words = frozenset(word for word, prefix in found if not prefix)
        prefixes = tuple(sorted(word for word, prefix in found if prefix))
        long = tuple(p for p in prefixes if len(p) >= HEAD)
        short = tuple(p for p in prefixes if len(p) < HEAD)
        heads = frozenset(p[:HEAD] for p in long)
        return cls(words, prefixes, heads=heads, short=short, long=long)

    def passes(self, doc: QueryDocument) -> bool:
        if self.always or doc.has_any(self.words):
            return True
        if any(doc.contains(prefix, True) for prefix in self.short):
            return True
        if not self.heads or doc.heads().isdisjoint(self.heads):
            return False
        return any(doc.contains(prefix, True) for prefix in self.long)
