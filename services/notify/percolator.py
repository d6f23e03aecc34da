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

import bisect
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
        # Any conjunct's keys would do; the most selective one gives the fewest candidates.
        options = [k for k in (query_keys(c) for c in node.children) if k is not None]
        return min(options, key=cost) if options else None
    if isinstance(node, Not | Sentiment):
        return None
    raise TypeError(f"not a query node: {node!r}")


# How many articles a key is expected to select, relatively (no corpus statistics yet): a
# long word is rarer than a short one, an entity rarer than a topic, and lang:en selects
# almost everything.
_KIND_COST = {"entity": 6.0, "source": 8.0, "topic": 20.0, "lang": 100.0}


def _key_cost(key: Key) -> float:
    kind, value = key
    if kind in ("word", "prefix"):
        return 12.0 - min(len(value), 10) + (2.0 if kind == "prefix" else 0.0)
    return _KIND_COST.get(kind, 10.0)


def cost(keys: frozenset[Key]) -> float:
    """Expected selectivity of indexing by ``keys`` (an article needs any one of them)."""
    return sum(_key_cost(k) for k in keys)


def required_groups(node: Node) -> list[frozenset[Key]]:
    """Key sets that must each be hit by a matching document (conjuncts of ``node``)."""
    if isinstance(node, And):
        return [g for child in node.children for g in required_groups(child)]
    if isinstance(node, Near):
        return required_groups(node.left) + required_groups(node.right)
    if isinstance(node, Phrase):
        # Adjacent word pairs of the phrase (wildcards aside) must occur as pairs.
        pairs = [
            frozenset({("pair", f"{a.text} {b.text}")})
            for a, b in zip(node.words, node.words[1:], strict=False)
            if not a.prefix and not b.prefix
        ]
        return pairs or [k for k in [query_keys(node)] if k]
    keys = query_keys(node) if not isinstance(node, Not | Sentiment) else None
    return [keys] if keys else []


def _index_keys(topic_keys: frozenset[Key], rule: Node | None) -> frozenset[Key] | None:
    """The keys a subscription is indexed by (None: checked against every article)."""
    options = [k for k in (topic_keys, query_keys(rule) if rule else None) if k]
    return min(options, key=cost) if options else None


class _DocKeys:
    """The article's keys, for set-speed membership tests."""

    def __init__(self, doc: QueryDocument) -> None:
        self.doc = doc
        self.keys: set[Key] = {("word", w) for w in doc.vocabulary()}
        self.keys.update(
            ("pair", f"{a} {b}") for a, b in zip(doc.words, doc.words[1:], strict=False)
        )
        self.keys.update(("entity", e) for e in doc.entities)
        self.keys.update(("topic", t) for t in doc.topics)
        if doc.lang:
            self.keys.add(("lang", doc.lang))
        if doc.source:
            self.keys.add(("source", doc.source))
        self._prefix_hits: dict[str, bool] = {}

    def has(self, key: Key) -> bool:
        if key[0] != "prefix":
            return key in self.keys
        hit = self._prefix_hits.get(key[1])
        if hit is None:
            hit = self._prefix_hits[key[1]] = bool(self.doc.positions(key[1], True))
        return hit


@dataclass
class Percolator:
    """Subscription ids by key; build once, then ``candidates`` per article."""

    _by_key: dict[Key, set[str]] = field(default_factory=dict)
    _always: set[str] = field(default_factory=set)
    _prefix_lengths: set[int] = field(default_factory=set)
    # Per subscription, key sets that must each be hit: a set-lookup pre-check that throws out
    # most candidates before the evaluator runs (an AND of two words is indexed by one).
    # Stored as (single keys that must all be present, the other groups): the first is one
    # C-speed subset test against the article's keys.
    _groups: dict[str, tuple[frozenset[Key], tuple[frozenset[Key], ...]]] = field(
        default_factory=dict
    )
    # Subscriptions that are nothing but a sentiment threshold, sorted by threshold per
    # operator: an article selects the ones its score satisfies by bisection, instead of
    # every article checking all of them.
    _sentiment: dict[str, list[tuple[float, str]]] = field(default_factory=dict)
    # What each subscription was filed under: its topics and rule (the rule is the parsed
    # query, shared, not copied). Removing one recomputes its keys from them and touches only
    # its own entries instead of scanning the whole index; keeping the keys themselves would
    # cost ~30 % more index memory.
    _filed: dict[str, tuple[tuple[str, ...], Node | None]] = field(default_factory=dict)

    def add(self, subscription_id: str, topics: Iterable[str], rule: Node | None) -> None:
        """Indexes a subscription; an id already indexed is replaced."""
        if subscription_id in self._filed:
            self.remove(subscription_id)
        topics = tuple(topics)
        self._filed[subscription_id] = (topics, rule)
        topic_keys = frozenset(("topic", t) for t in topics)
        if isinstance(rule, Sentiment) and not topic_keys:
            bisect.insort(self._sentiment.setdefault(rule.op, []), (rule.value, subscription_id))
            return
        keys = _index_keys(topic_keys, rule)
        groups = [topic_keys] if topic_keys else []
        if rule is not None:
            groups += required_groups(rule)
        if groups:
            single = frozenset(
                next(iter(g)) for g in groups if len(g) == 1 and next(iter(g))[0] != "prefix"
            )
            others = tuple(g for g in groups if len(g) != 1 or next(iter(g))[0] == "prefix")
            self._groups[subscription_id] = (single, others)
        if not keys:
            self._always.add(subscription_id)
            return
        for key in keys:
            self._by_key.setdefault(key, set()).add(subscription_id)
            if key[0] == "prefix":
                self._prefix_lengths.add(len(key[1]))

    def remove(self, subscription_id: str) -> None:
        """Forgets a subscription (no-op for an unknown id).

        A prefix length stays in ``_prefix_lengths`` after its last user goes: candidates are
        still exact, an article just looks up one length more until the next rebuild.
        """
        filed = self._filed.pop(subscription_id, None)
        if filed is None:
            return
        topics, rule = filed
        self._groups.pop(subscription_id, None)
        self._always.discard(subscription_id)
        topic_keys = frozenset(("topic", t) for t in topics)
        if isinstance(rule, Sentiment) and not topic_keys:
            entries = self._sentiment.get(rule.op, [])
            at = bisect.bisect_left(entries, (rule.value, subscription_id))
            if at < len(entries) and entries[at] == (rule.value, subscription_id):
                del entries[at]
            if not entries:
                self._sentiment.pop(rule.op, None)
            return
        for key in _index_keys(topic_keys, rule) or ():
            ids = self._by_key.get(key)
            if ids is not None:
                ids.discard(subscription_id)
                if not ids:
                    del self._by_key[key]

    def __contains__(self, subscription_id: object) -> bool:
        return subscription_id in self._filed

    def __len__(self) -> int:
        return len(self._filed)

    def _by_sentiment(self, score: float | None) -> set[str]:
        if score is None:
            return set()
        out: set[str] = set()
        for op, entries in self._sentiment.items():
            values = [v for v, _ in entries]
            if op == "<":  # thresholds above the score
                chosen = entries[bisect.bisect_right(values, score) :]
            elif op == "<=":
                chosen = entries[bisect.bisect_left(values, score) :]
            elif op == ">":
                chosen = entries[: bisect.bisect_left(values, score)]
            elif op == ">=":
                chosen = entries[: bisect.bisect_right(values, score)]
            else:
                chosen = entries[
                    bisect.bisect_left(values, score) : bisect.bisect_right(values, score)
                ]
            out.update(sid for _, sid in chosen)
        return out

    def candidates(self, doc: QueryDocument) -> set[str]:
        found = set(self._always) | self._by_sentiment(doc.sentiment)
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
        present = _DocKeys(doc)
        keys = present.keys
        out = set()
        for sid in found:
            required = self._groups.get(sid)
            if required is None:
                out.add(sid)
                continue
            single, others = required
            if single <= keys and all(any(present.has(k) for k in g) for g in others):
                out.add(sid)
        return out
