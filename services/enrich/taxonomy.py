"""Topic tagging: each taxonomy topic is a query in the shared language. Pure.

A tag carries the query's score, the matched terms and the evidence (the text and the field
it stood in), so "why was this tagged?" has an answer on every record.

Every topic has its English rule (taxonomy.yaml) and may have a rule per language
(services/enrich/languages.py). An article is tagged by the rule of its detected language
when that language's pack has one, else by the English rule: an English article pays
nothing for the German vocabulary, and English words that are other words elsewhere
(Italian "ai" is "to the", Spanish "rearmarse" is no "rearm*") do not tag foreign news. A
pack rule names the English words its language's news borrows ("NATO", "Brexit").
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from schemas.enriched import TopicTag
from services.enrich.languages import LanguagePack, default_folder, load_packs
from services.query import Match, Node, QueryDocument, evaluate, parse
from services.query.ast import And, Near, Or, Phrase, Term
from services.query.prefilter import Trigger, TriggerTest, triggers

MAX_EVIDENCE = 12


class TopicSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    label: str
    description: str
    query: str


class TaxonomyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str
    topics: list[TopicSpec]


@dataclass(frozen=True)
class Topic:
    spec: TopicSpec
    rule: Node
    triggers: frozenset[Trigger] | None
    trigger_test: TriggerTest
    # Word sets the rule needs every one of (both sides of a NEAR, each part of an AND),
    # tested after trigger_test: a third of the rules that pass it have a side absent.
    required: tuple[TriggerTest, ...] = ()
    # The same topic's rule in other languages, by ISO 639-1 code (each without translations).
    translations: Mapping[str, "Topic"] = field(default_factory=dict)

    def may_match(self, doc: QueryDocument) -> bool:
        return self.trigger_test.passes(doc) and all(t.passes(doc) for t in self.required)

    def rule_for(self, lang: str | None) -> "Topic":
        """The rule an article in ``lang`` is tagged by: its language's, else English."""
        translated = self.translations.get(lang) if lang else None
        return self if translated is None else translated


def required_words(node: Node) -> list[frozenset[Trigger]]:
    """Trigger sets of which the rule needs one word each (a necessary condition only)."""
    if isinstance(node, Term | Phrase | Or):
        found = triggers(node)
        return [found] if found is not None else []
    if isinstance(node, Near):  # both sides must have spans
        return required_words(node.left) + required_words(node.right)
    if isinstance(node, And):
        return [found for child in node.children for found in required_words(child)]
    return []  # NOT and metadata predicates need no word


@dataclass(frozen=True)
class Taxonomy:
    version: str
    topics: tuple[Topic, ...]

    def get(self, topic_id: str) -> Topic:
        for topic in self.topics:
            if topic.spec.id == topic_id:
                return topic
        raise KeyError(f"no topic {topic_id!r} in taxonomy {self.version}")


def compile_topic(spec: TopicSpec, translations: Mapping[str, Topic] | None = None) -> Topic:
    rule = parse(spec.query)
    found = triggers(rule)
    # The trigger set itself is tested first; the others only when it passes.
    required = tuple(TriggerTest.of(r) for r in required_words(rule) if r != found)
    return Topic(spec, rule, found, TriggerTest.of(found), required, translations or {})


def load_taxonomy(path: Path, languages: Path | None = None) -> Taxonomy:
    """Parses every rule now: a broken rule fails the worker at start, not per article.

    ``languages`` is the folder of language packs, by default ``lang/`` beside ``path``.
    """
    data = TaxonomyFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    ids = [t.id for t in data.topics]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise ValueError(f"duplicate topic ids in {path}: {duplicated}")
    packs = load_packs(languages or default_folder(path))
    for pack in packs.values():
        unknown = sorted(set(pack.topics) - set(ids))
        if unknown:
            raise ValueError(f"language pack {pack.language!r}: no such topics {unknown}")
    topics = tuple(compile_topic(spec, _translations(spec, packs)) for spec in data.topics)
    return Taxonomy(data.version, topics)


def _translations(spec: TopicSpec, packs: Mapping[str, LanguagePack]) -> dict[str, Topic]:
    out = {}
    for code, pack in packs.items():
        query = pack.topics.get(spec.id)
        if query is None:
            continue
        try:
            out[code] = compile_topic(spec.model_copy(update={"query": query}))
        except ValueError as exc:  # QuerySyntaxError: say which pack and topic
            raise ValueError(f"language pack {code!r}, topic {spec.id!r}: {exc}") from exc
    return out


def to_tag(topic: Topic, match: Match) -> TopicTag:
    # Plain dicts: TopicTag validates them into Evidence in one call (a model built per piece
    # of evidence cost twice as much).
    evidence: list[dict[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for text, where in match.texts:
        key = (text, str(where))
        if key not in seen:
            seen.add(key)
            evidence.append({"text": text, "field": key[1]})
            if len(evidence) == MAX_EVIDENCE:
                break  # the first ones, in the order the rule found them
    return TopicTag.model_validate(
        {
            "id": topic.spec.id,
            "label": topic.spec.label,
            "score": match.score,
            "matched": match.terms,
            "evidence": evidence,
        }
    )


def tag(doc: QueryDocument, taxonomy: Taxonomy) -> list[TopicTag]:
    tags = []
    for topic in taxonomy.topics:
        rule = topic.rule_for(doc.lang)
        if not rule.may_match(doc):
            continue  # a word set the rule needs one of is absent from the article
        match = evaluate(rule.rule, doc)
        if match.matched:
            tags.append(to_tag(rule, match))
    return tags
