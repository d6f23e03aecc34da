"""A percolator: subscriptions indexed by what they need, so an article is checked against
the few that could match instead of all of them (the Elasticsearch percolator and Lucene
Monitor do the same).

Each subscription gets index keys, any one of which a matching article must have:

- its taxonomy topics, when it names any (``topic`` keys: the most selective);
- otherwise keys derived from its query: words (``word``), word prefixes (``prefix``), and
  metadata predicates (``entity``, ``topic``, ``lang``, ``source``);
- a subscription with no such key (only NOT, only ``sentiment:``) goes to a short list that
  every article is checked against.

An article's keys are its words, its words' prefixes that some subscription indexes, and its
entities, topics, language and source. The candidates are verified with the full evaluator,
so the index only has to be complete (never miss a match), not exact.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from services.query.ast import And, Has, Near, Node, Not, Or, Phrase, Sentiment, Term
from services.query.document import QueryDocument

Key = tuple[str, str]


def query_keys(node: Node) -> frozenset[Key] | None:
    """Keys of which a document matching ``node`` has at least one, or None."""
    if isinstance(node, Term):
        return frozenset({("prefix" if node.prefix else "word", node.text)})
    if isinstance(node, Phrase):
        first = node.words[0]
        return frozenset({("prefix" if first.prefix else "word", first.text)})
    if isinstance(node, Has):
        return frozenset({(node.kind, node.value)})
    if isinstance(node, Near):
        return query_keys(node.left)
    if isinstance(node, Or):
        union: set[Key] = set()
        for child in node.children:
            found = query_keys(child)
            if found is None:
                return None
            union |= found
        return frozenset(union)
    if isinstance(node, And):
        options = [k for k in (query_keys(c) for c in node.children) if k is not None]
        return min(options, key=len) if options else None
    if isinstance(node, Not | Sentiment):
        return None
    raise TypeError(f"not a query node: {node!r}")


@dataclass
class Percolator:
    """Subscription ids by key; build once, then ``candidates`` per article."""

    _by_key: dict[Key, set[str]] = field(default_factory=dict)
    _always: set[str] = field(default_factory=set)
    _prefix_lengths: set[int] = field(default_factory=set)

    def add(self, subscription_id: str, topics: Iterable[str], rule: Node | None) -> None:
        keys: frozenset[Key] | None = frozenset(("topic", t) for t in topics) or None
        if keys is None and rule is not None:
            keys = query_keys(rule)
        if not keys:
            self._always.add(subscription_id)
            return
        for key in keys:
            self._by_key.setdefault(key, set()).add(subscription_id)
            if key[0] == "prefix":
                self._prefix_lengths.add(len(key[1]))

    def remove(self, subscription_id: str) -> None:
        self._always.discard(subscription_id)
        for ids in self._by_key.values():
            ids.discard(subscription_id)

    def candidates(self, doc: QueryDocument) -> set[str]:
        found = set(self._always)
        by_key = self._by_key
        for word in doc.vocabulary():
            ids = by_key.get(("word", word))
            if ids:
                found |= ids
            for n in self._prefix_lengths:
                if n <= len(word):
                    ids = by_key.get(("prefix", word[:n]))
                    if ids:
                        found |= ids
        meta: list[Key] = [("entity", e) for e in doc.entities]
        meta += [("topic", t) for t in doc.topics]
        if doc.lang:
            meta.append(("lang", doc.lang))
        if doc.source:
            meta.append(("source", doc.source))
        for key in meta:
            ids = by_key.get(key)
            if ids:
                found |= ids
        return found

    def __len__(self) -> int:
        ids = set(self._always)
        for members in self._by_key.values():
            ids |= members
        return len(ids)
