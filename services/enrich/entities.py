"""Entities: countries, people, organisations and regions, with mention counts per field.

The gazetteer is pycountry's countries (names, common and official names) plus a curated file
(services/enrich/data/gazetteer.yaml) of demonyms, capitals, leaders and organisations. Two
Aho-Corasick automata (pyahocorasick) find every alias in one pass each: one over the
case-folded text for ordinary names, one over the text as written for acronyms ("US", "EU",
"UN"), so "us" and "un" stay words. Matches must stand on word boundaries, and where they
overlap the longest wins ("Sir Keir Starmer" over "Starmer", "South Korea" over "Korea").
"""

import re
from dataclasses import dataclass
from pathlib import Path

import ahocorasick
import pycountry
import yaml

from schemas.article import Article
from schemas.enriched import EntityMention

_ACRONYM = re.compile(r"^(?:[A-Z]\.?){2,5}$")
FIELDS = ("title", "summary", "body")


@dataclass(frozen=True)
class EntityInfo:
    id: str
    kind: str
    name: str


class Gazetteer:
    def __init__(self, entities: dict[str, EntityInfo], aliases: dict[str, set[str]]) -> None:
        self.entities = entities
        self._folded = ahocorasick.Automaton()
        self._exact = ahocorasick.Automaton()
        for entity_id, names in aliases.items():
            for alias in names:
                if _ACRONYM.match(alias):
                    self._exact.add_word(alias, (len(alias), entity_id))
                else:
                    folded = alias.casefold()
                    self._folded.add_word(folded, (len(folded), entity_id))
        for automaton in (self._folded, self._exact):
            if len(automaton):
                automaton.make_automaton()

    def find(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, entity id) of each alias on word boundaries, overlaps resolved."""
        found: list[tuple[int, int, str]] = []
        folded = text.casefold()
        # casefold can change lengths (ß → ss); only use folded offsets when they line up.
        sources = [(self._exact, text)]
        if len(folded) == len(text):
            sources.append((self._folded, folded))
        for automaton, haystack in sources:
            if not len(automaton):
                continue
            for end, (length, entity_id) in automaton.iter(haystack):
                start = end - length + 1
                before = haystack[start - 1] if start > 0 else " "
                after = haystack[end + 1] if end + 1 < len(haystack) else " "
                if not before.isalnum() and not after.isalnum():
                    found.append((start, end + 1, entity_id))
        found.sort(key=lambda m: (m[0], -(m[1] - m[0])))
        kept: list[tuple[int, int, str]] = []
        last_end = -1
        for start, end, entity_id in found:
            if start >= last_end:
                kept.append((start, end, entity_id))
                last_end = end
        return kept

    def locate(self, article: Article) -> dict[str, tuple[str, list[tuple[int, int, str]]]]:
        """Field → (its text, the entity matches in it)."""
        body = f"{article.body}\n\n{article.context}" if article.context else article.body
        texts = {"title": article.title, "summary": "\n".join(article.summary), "body": body}
        return {field: (text, self.find(text)) for field, text in texts.items()}

    def mentions(
        self,
        located: dict[str, tuple[str, list[tuple[int, int, str]]]],
        sentiments: dict[str, float] | None = None,
    ) -> list[EntityMention]:
        # Plain dicts: a Counter per entity cost a Python-level __init__, and a Python-level
        # __missing__ per field without mentions.
        counts: dict[str, dict[str, int]] = {}
        for field, (_, found) in located.items():
            for _, _, entity_id in found:
                per_field = counts.get(entity_id)
                if per_field is None:
                    per_field = counts[entity_id] = {}
                per_field[field] = per_field.get(field, 0) + 1
        scores = sentiments or {}
        out = []
        for entity_id, per_field in counts.items():
            info = self.entities[entity_id]
            out.append(
                EntityMention(
                    id=entity_id,
                    name=info.name,
                    kind=info.kind,
                    mentions=sum(per_field.values()),
                    fields={f: per_field[f] for f in FIELDS if f in per_field},
                    sentiment=scores.get(entity_id),
                )
            )
        # Most mentioned first; a title mention outranks body mentions at equal counts.
        out.sort(key=lambda m: (-m.mentions, -m.fields.get("title", 0), m.id))
        return out


def load_gazetteer(path: Path) -> Gazetteer:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    entities: dict[str, EntityInfo] = {}
    aliases: dict[str, set[str]] = {}
    for country in pycountry.countries:
        code = country.alpha_2
        entities[code] = EntityInfo(code, "country", getattr(country, "common_name", country.name))
        names = {
            country.name,
            getattr(country, "common_name", country.name),
            getattr(country, "official_name", country.name),
        }
        # "Korea, Republic of" style names are not how news writes them.
        aliases[code] = {n for n in names if "," not in n}
    for code, extra in (data.get("countries") or {}).items():
        # YAML reads a bare NO (Norway) as false: insist on known country codes.
        if not isinstance(code, str) or code not in entities:
            raise ValueError(f"{path}: {code!r} is not an ISO 3166-1 alpha-2 code (quote it)")
        aliases[code].update(extra)
    for item in data.get("entities") or []:
        entities[item["id"]] = EntityInfo(item["id"], item["kind"], item["name"])
        aliases.setdefault(item["id"], set()).update(item["aliases"])
    return Gazetteer(entities, aliases)
