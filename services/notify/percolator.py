"""A percolator: subscriptions indexed by what they need, so an article is checked against
the few that could match instead of all of them (the Elasticsearch percolator and Lucene
Monitor do the same).

A rule is read as *clauses*: sets of keys of which a matching article has at least one
(``a AND (b OR c)`` needs ``{a}`` and ``{b, c}``). Keys are words (``word``), word prefixes
(``prefix``), adjacent word pairs inside one field (``pair``, from phrases), metadata
(``entity``, ``topic``, ``lang``, ``source``) and the sentiment thresholds some rule uses
(``sentiment``: present when the article's score satisfies it).

Subscriptions with the same topics, rule and minimum score are filed once, as a
:class:`SharedRule`: whatever holds for one holds for all, so an article that raises a
thousand "sentiment:<-0.6" alerts costs one check, and its subscribers come out as a block.

A shared rule is filed under its two cheapest clauses: under each key of the cheapest one,
then under each key of the second, so an article reaches it only when both hold. With one key
per rule, a word present in 2 % of articles drew 2 % of all two-word rules as candidates, each
then checked in Python; with two, the article's keys are intersected with the second level
in C and only rules whose two clauses hold come out. A rule with no clause (only NOT) goes to
a short list that every article is checked against.

When a rule *is* its clauses (terms, two-word phrases, predicates, sentiment thresholds,
joined by AND/OR, NOT of one clause, and a minimum score of 0), an article holding all of
them (and none of the NOT's keys) matches it without evaluation (:meth:`Percolator.select`
says ``certain``); otherwise the candidate is verified with the full evaluator, so the index
only has to be complete, never exact.

Such a rule with at most two clauses is *plain*: its subscription ids are filed themselves,
in the same sets as the other rules, and taken out again under its NOT's keys. A 500-word
article matches ~1,800 of the bench's subscriptions; they come out as ids from set unions
in C, with no Python step per rule (:meth:`Percolator.select_ids`).
"""

import bisect
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TypeVar, cast

from services.query.ast import And, Has, Near, Node, Not, Or, Phrase, Sentiment, Term
from services.query.document import QueryDocument

Key = tuple[str, str]
Clause = frozenset[Key]


def query_keys(node: Node) -> frozenset[Key] | None:
    """Keys of which a document matching ``node`` has at least one, or None."""
    if isinstance(node, Term):
        if node.infix:
            return None  # inside other words: no key an article's words give
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


# How many articles a key is expected to select, relatively (no corpus statistics: see
# docs/work-notes/percolate.md for why learned document frequencies did not pay here): a long
# word is rarer than a short one, two adjacent words rarer than either, an entity rarer than a
# topic, a sentiment threshold holds for a large share of articles, lang:en for almost all.
_KIND_COST = {
    "pair": 1.0,
    "entity": 6.0,
    "source": 8.0,
    "topic": 20.0,
    "sentiment": 50.0,
    "lang": 100.0,
}


def _key_cost(key: Key) -> float:
    kind, value = key
    if kind in ("word", "prefix"):
        return 12.0 - min(len(value), 10) + (2.0 if kind == "prefix" else 0.0)
    return _KIND_COST.get(kind, 10.0)


def cost(keys: frozenset[Key]) -> float:
    """Expected selectivity of indexing by ``keys`` (an article needs any one of them)."""
    return sum(_key_cost(k) for k in keys)


def sentiment_key(node: Sentiment) -> Key:
    return ("sentiment", f"{node.op}{node.value!r}")


@dataclass(frozen=True, slots=True)
class Conditions:
    """What a rule asks of an article's keys.

    ``required``: clauses every matching article satisfies (one key of each present);
    ``forbidden``: clauses no matching article satisfies (from ``NOT word``); ``exact``: an
    article satisfying the required and none of the forbidden matches, without evaluation.
    """

    required: tuple[Clause, ...] = ()
    forbidden: tuple[Clause, ...] = ()
    exact: bool = False


_NOTHING = Conditions()


def _single(key: Key, exact: bool = True) -> Conditions:
    return Conditions((frozenset({key}),), (), exact)


def clauses(node: Node) -> Conditions:
    """The conditions on keys that ``node`` implies (and, when exact, amounts to)."""
    if isinstance(node, Term):
        if node.infix:
            return _NOTHING  # verified by the evaluator, as a rule without keys
        return _single(("prefix" if node.prefix else "word", node.text), node.field == "any")
    if isinstance(node, Phrase):
        # Adjacent word pairs of the phrase (wildcards aside) must occur as pairs, in one
        # field; for two plain words that is the whole phrase.
        pairs = tuple(
            frozenset({("pair", f"{a.text} {b.text}")})
            for a, b in pairwise(node.words)
            if not a.prefix and not b.prefix
        )
        if pairs:
            exact = node.field == "any" and len(node.words) == 2 and len(pairs) == 1
            return Conditions(pairs, (), exact)
        first = node.words[0]
        return _single(("prefix" if first.prefix else "word", first.text), False)
    if isinstance(node, Has):
        return _single((node.kind, node.value))
    if isinstance(node, Sentiment):
        return _single(sentiment_key(node))
    if isinstance(node, And):
        parts = [clauses(child) for child in node.children]
        return Conditions(
            tuple(c for p in parts for c in p.required),
            tuple(c for p in parts for c in p.forbidden),
            all(p.exact for p in parts),
        )
    if isinstance(node, Near):
        return Conditions(clauses(node.left).required + clauses(node.right).required)
    if isinstance(node, Or):
        # One clause: the union of one required clause per branch (its cheapest). Exact when
        # every branch is exactly one clause; a branch's forbidden clauses cannot be kept.
        union: set[Key] = set()
        exact = True
        for child in node.children:
            found = clauses(child)
            if not found.required:
                return _NOTHING  # that branch can match without any key
            cheapest: Clause = min(found.required, key=cost)
            union |= cheapest
            exact = exact and found.exact and len(found.required) == 1 and not found.forbidden
        return Conditions((frozenset(union),), (), exact)
    if isinstance(node, Not):
        # NOT of something that is exactly one clause is exactly that clause's absence.
        inner = clauses(node.child)
        if inner.exact and len(inner.required) == 1 and not inner.forbidden:
            return Conditions((), inner.required, True)
        return _NOTHING
    raise TypeError(f"not a query node: {node!r}")


def encoded(key: Key) -> str:
    """A key as the index stores it: one string, whose hash Python caches (a tuple's it
    recomputes on every lookup), and an article's words are keys as they stand. Words hold
    no space, ``*`` or ``:``, so the forms cannot collide: ``ukraine``, ``security
    guarantees`` (pair), ``guarantee*`` (prefix), ``entity:UA`` (the other kinds)."""
    kind, value = key
    if kind in ("word", "pair"):
        return value
    if kind == "prefix":
        return value + "*"
    return f"{kind}:{value}"


_NO_KEYS: frozenset[str] = frozenset()


@dataclass(eq=False, slots=True)
class SharedRule:
    """Subscriptions filed once because they ask the same: topics, rule and minimum score.

    Hashed by identity: the index holds each once, and sets of them are built per article.
    """

    topics: frozenset[str]
    rule: Node | None
    min_score: float
    # Sorted: an article's matches are these lists end to end, and sorting runs is cheap.
    members: list[str] = field(default_factory=list)
    # Whether an article meeting every condition matches without evaluation.
    exact: bool = False
    # Where it is filed: the first clause's keys, and the second's (empty: one level).
    first: tuple[str, ...] = ()
    second: tuple[str, ...] = ()
    # Conditions the filing does not check: single keys that must all be present (one
    # C-speed subset test), other clauses, and keys none of which may be present.
    rest_single: frozenset[str] = _NO_KEYS
    rest_other: tuple[frozenset[str], ...] = ()
    forbidden: frozenset[str] = _NO_KEYS
    # Whether there are any of those (most rules have two clauses and nothing more).
    more: bool = False

    @property
    def plain(self) -> bool:
        """Whether its filing and forbidden keys decide it: exact, filed, and no required
        clause beyond the two it is filed under. Its members are then filed themselves, as
        ids (and under its forbidden keys, to be taken out when one is present)."""
        return self.exact and bool(self.first) and not self.rest_single and not self.rest_other

    def admits(self, keys: set[str]) -> bool:
        """Whether an article with ``keys`` meets the conditions the filing does not check."""
        return (
            self.rest_single <= keys
            and all(not c.isdisjoint(keys) for c in self.rest_other)
            and self.forbidden.isdisjoint(keys)
        )


SignatureKey = tuple[frozenset[str], Node | None, float]


def _conditions(topics: frozenset[str], rule: Node | None) -> Conditions:
    """A subscription's conditions: any of its topics, and its rule."""
    found = clauses(rule) if rule is not None else Conditions(exact=True)
    if not topics:
        return found
    topic_clause = frozenset(("topic", t) for t in topics)
    return Conditions((topic_clause, *found.required), found.forbidden, found.exact)


def _encoded_all(clause: Clause) -> frozenset[str]:
    return frozenset(encoded(k) for k in clause)


# What the index files: a plain rule's subscription ids, or another rule itself.
Item = str | SharedRule
T = TypeVar("T")


@dataclass
class Filing:
    """Items filed under a rule's first clause, and when it has more, under its second too:
    an article reaches an item through a key of each (or of the one) clause it holds."""

    # Items with one required clause, by each of its keys.
    by_key: dict[str, set[Item]] = field(default_factory=dict)
    # Items with two or more: first clause's key → second clause's key → items.
    by_pair: dict[str, dict[str, set[Item]]] = field(default_factory=dict)
    # The second-level keys again, as sets: a set intersects a set by the hashes stored in
    # its table, where dict keys are hashed anew through each key object (scattered in
    # memory). 0.55 → 0.38 ms an article for the news-length shape's ~8,000 probes.
    seconds: dict[str, set[str]] = field(default_factory=dict)

    def add(self, shared: SharedRule, item: Item) -> None:
        if not shared.second:
            for key in shared.first:
                self.by_key.setdefault(key, set()).add(item)
            return
        for k1 in shared.first:
            inner = self.by_pair.setdefault(k1, {})
            seconds = self.seconds.setdefault(k1, set())
            for k2 in shared.second:
                inner.setdefault(k2, set()).add(item)
                seconds.add(k2)

    def discard(self, shared: SharedRule, item: Item) -> None:
        if not shared.second:
            for key in shared.first:
                _discard(self.by_key, key, item)
            return
        for k1 in shared.first:
            inner = self.by_pair.get(k1)
            if inner is None:
                continue
            for k2 in shared.second:
                _discard(inner, k2, item)
                if k2 not in inner:
                    self.seconds[k1].discard(k2)
            if not inner:
                del self.by_pair[k1], self.seconds[k1]

    def reached(self, keys: set[str]) -> set[Item]:
        """The items an article with ``keys`` reaches (one C-level union per first key)."""
        found: set[Item] = set()
        by_key = self.by_key
        found.update(*map(by_key.__getitem__, by_key.keys() & keys))
        by_pair, seconds = self.by_pair, self.seconds
        for k1 in seconds.keys() & keys:
            found.update(*map(by_pair[k1].__getitem__, seconds[k1] & keys))
        return found

    def __bool__(self) -> bool:
        return bool(self.by_key or self.by_pair)


@dataclass
class Percolator:
    """Subscription ids filed by what they need; build once, then ``select`` per article."""

    # Members of plain rules (see SharedRule.plain), filed by their rule's clauses, and the
    # other rules themselves (their conditions are checked, and maybe the rule evaluated, per
    # article), filed likewise in the same sets: most rules are plain, and an article's
    # matches among them come out as ids, by set unions in C, with no Python step per rule;
    # one filing, so each key an article holds is looked up once.
    _filed: Filing = field(default_factory=Filing)
    # The other rules filed, to pick them out of what an article reaches.
    _filed_rules: set[SharedRule] = field(default_factory=set)
    # Members of plain rules with NOT, by each forbidden key: out when the article has it.
    _ids_forbidden: dict[str, set[str]] = field(default_factory=dict)
    # Shared rules with no required clause (only NOT), checked against every article.
    _always: set[SharedRule] = field(default_factory=set)
    # Prefix lengths and sentiment thresholds in use (with how many clauses use each): an
    # article's keys include its words' prefixes of those lengths and the thresholds it meets.
    _prefix_lengths: Counter[int] = field(default_factory=Counter)
    _thresholds: Counter[Key] = field(default_factory=Counter)
    # Per comparison operator, thresholds in use sorted, with their encoded keys: an article
    # meets a run of them.
    _sentiment: dict[str, tuple[list[float], list[str]]] = field(default_factory=dict)
    # Every key some filed rule's clauses name (how many clauses do): an article's keys are
    # kept to these, so the filings' first levels probe fewer (a 500-word article holds
    # ~1,400 candidate keys, mostly word pairs and prefixes no rule names).
    _in_use: Counter[str] = field(default_factory=Counter)
    _rules: dict[SignatureKey, SharedRule] = field(default_factory=dict)
    _rule_of: dict[str, SharedRule] = field(default_factory=dict)

    def add(
        self,
        subscription_id: str,
        topics: Iterable[str],
        rule: Node | None,
        min_score: float = 0.0,
    ) -> None:
        """Indexes a subscription; an id already indexed is replaced."""
        if subscription_id in self._rule_of:
            self.remove(subscription_id)
        topic_set = frozenset(topics)
        signature = (topic_set, rule, min_score)
        shared = self._rules.get(signature)
        if shared is None:
            shared = self._rules[signature] = self._file(topic_set, rule, min_score)
        bisect.insort(shared.members, subscription_id)
        if shared.plain:
            self._filed.add(shared, subscription_id)
            for key in shared.forbidden:
                self._ids_forbidden.setdefault(key, set()).add(subscription_id)
        self._rule_of[subscription_id] = shared

    def remove(self, subscription_id: str) -> None:
        """Forgets a subscription (no-op for an unknown id)."""
        shared = self._rule_of.pop(subscription_id, None)
        if shared is None:
            return
        members = shared.members
        del members[bisect.bisect_left(members, subscription_id)]
        if shared.plain:
            self._filed.discard(shared, subscription_id)
            for key in shared.forbidden:
                _discard(self._ids_forbidden, key, subscription_id)
        if not members:
            del self._rules[(shared.topics, shared.rule, shared.min_score)]
            self._unfile(shared)

    def __contains__(self, subscription_id: object) -> bool:
        return subscription_id in self._rule_of

    def __len__(self) -> int:
        return len(self._rule_of)

    def _file(self, topics: frozenset[str], rule: Node | None, min_score: float) -> SharedRule:
        found = _conditions(topics, rule)
        # A matching rule scores at least 0.5 and topic tags at least 0, so a minimum score
        # of 0 never turns a match away.
        shared = SharedRule(topics, rule, min_score, exact=found.exact and min_score == 0.0)
        self._count_special_keys(found, +1)
        if found.forbidden:
            shared.forbidden = frozenset(encoded(k) for c in found.forbidden for k in c)
        ranked = [_encoded_all(c) for c in sorted(found.required, key=cost)]
        if not ranked:
            shared.more = bool(shared.forbidden)
            self._always.add(shared)
            return shared
        shared.first = tuple(ranked[0])
        rest = ranked[1:]
        if rest:
            shared.second = tuple(rest.pop(0))
        single = frozenset(next(iter(c)) for c in rest if len(c) == 1)
        shared.rest_single = single or _NO_KEYS
        shared.rest_other = tuple(c for c in rest if len(c) != 1)
        shared.more = bool(shared.rest_single or shared.rest_other or shared.forbidden)
        if not shared.plain:  # a plain rule's members are filed as they are added
            self._filed.add(shared, shared)
            self._filed_rules.add(shared)
        return shared

    def _unfile(self, shared: SharedRule) -> None:
        self._always.discard(shared)
        if not shared.plain:
            self._filed.discard(shared, shared)
            self._filed_rules.discard(shared)
        # Recomputed rather than kept: ~90,000 rules' clauses would cost tens of MiB.
        self._count_special_keys(_conditions(shared.topics, shared.rule), -1)

    def _count_special_keys(self, found: Conditions, delta: int) -> None:
        """Registers (+1) or forgets (-1) the keys, prefix lengths and thresholds ``found``
        uses."""
        in_use = self._in_use
        for clause in found.required + found.forbidden:
            for key in clause:
                encoded_key = encoded(key)
                in_use[encoded_key] += delta
                if in_use[encoded_key] <= 0:
                    del in_use[encoded_key]
            for kind, value in clause:
                if kind == "prefix":
                    self._prefix_lengths[len(value)] += delta
                    if self._prefix_lengths[len(value)] <= 0:
                        del self._prefix_lengths[len(value)]
                elif kind == "sentiment":
                    if delta > 0:
                        self._use_threshold((kind, value))
                    else:
                        self._drop_threshold((kind, value))

    def _use_threshold(self, key: Key) -> None:
        self._thresholds[key] += 1
        if self._thresholds[key] > 1:
            return
        op, value = _threshold(key)
        values, keys = self._sentiment.setdefault(op, ([], []))
        at = bisect.bisect_left(values, value)
        values.insert(at, value)
        keys.insert(at, encoded(key))

    def _drop_threshold(self, key: Key) -> None:
        self._thresholds[key] -= 1
        if self._thresholds[key] > 0:
            return
        del self._thresholds[key]
        op, _ = _threshold(key)
        values, keys = self._sentiment[op]
        at = keys.index(encoded(key))
        del values[at], keys[at]
        if not values:
            del self._sentiment[op]

    def article_keys(self, doc: QueryDocument) -> set[str]:
        """The keys ``doc`` holds (encoded) that some filed rule names."""
        vocabulary = doc.vocabulary()
        keys = set(vocabulary)
        keys.update(doc.word_pairs())
        keys.update(f"entity:{e}" for e in doc.entities)
        keys.update(f"topic:{t}" for t in doc.topics)
        if doc.lang:
            keys.add(f"lang:{doc.lang}")
        if doc.source:
            keys.add(f"source:{doc.source}")
        for n in self._prefix_lengths:
            keys.update(w[:n] + "*" for w in vocabulary if len(w) >= n)
        score = doc.sentiment
        if score is not None:
            for op, (values, thresholds) in self._sentiment.items():
                keys.update(thresholds[_met(op, values, score)])
        return self._in_use.keys() & keys

    def select_ids(self, doc: QueryDocument) -> tuple[set[str], list[SharedRule]]:
        """(ids of subscriptions ``doc`` matches for certain, rules to verify)."""
        keys = self.article_keys(doc)
        found = self._filed.reached(keys)
        rules = self._filed_rules.intersection(found)  # iterates the smaller: found
        found -= rules
        certain = cast(set[str], found)  # the rest are ids
        forbidden = self._ids_forbidden
        certain.difference_update(*map(forbidden.__getitem__, forbidden.keys() & keys))
        unsure: list[SharedRule] = []
        for shared in rules | self._always:
            if shared.more and not shared.admits(keys):
                continue
            if shared.exact:
                certain.update(shared.members)
            else:
                unsure.append(shared)
        return certain, unsure

    def select(self, doc: QueryDocument) -> tuple[list[SharedRule], list[SharedRule]]:
        """(rules ``doc`` matches for certain, rules to verify with the evaluator)."""
        ids, unsure = self.select_ids(doc)
        rule_of = self._rule_of
        return list({rule_of[sid] for sid in ids}), unsure

    def candidates(self, doc: QueryDocument) -> set[str]:
        """Ids of the subscriptions ``doc`` may match (certain or to verify)."""
        ids, unsure = self.select_ids(doc)
        return ids.union(*(shared.members for shared in unsure))


def _discard(index: dict[str, set[T]], key: str, item: T) -> None:
    items = index.get(key)
    if items is not None:
        items.discard(item)
        if not items:
            del index[key]


def _threshold(key: Key) -> tuple[str, float]:
    text = key[1]
    op = text[:2] if text[:2] in ("<=", ">=") else text[:1]
    return op, float(text[len(op) :])


def _met(op: str, values: list[float], score: float) -> slice:
    """Which of the sorted thresholds ``values`` a score satisfies under ``op``."""
    if op == "<":  # thresholds above the score
        return slice(bisect.bisect_right(values, score), None)
    if op == "<=":
        return slice(bisect.bisect_left(values, score), None)
    if op == ">":
        return slice(None, bisect.bisect_left(values, score))
    if op == ">=":
        return slice(None, bisect.bisect_right(values, score))
    return slice(bisect.bisect_left(values, score), bisect.bisect_right(values, score))
