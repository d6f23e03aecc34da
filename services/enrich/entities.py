"""Entities: countries, people, organisations and regions, with mention counts per field.

The gazetteer is pycountry's countries (names, common and official names) plus a curated file
(services/enrich/data/gazetteer.yaml) of demonyms, capitals, leaders and organisations. Two
Aho-Corasick automata (pyahocorasick) find every alias in one pass each: one over the
case-folded text for ordinary names, one over the text as written for acronyms ("US", "EU",
"UN"), so "us" and "un" stay words. Matches must stand on word boundaries, and where they
overlap the longest wins ("Sir Keir Starmer" over "Starmer", "South Korea" over "Korea").
"""

import gettext
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import ahocorasick
import pycountry
import yaml

from schemas.article import Article
from schemas.enriched import EntityMention
from services.enrich.languages import default_folder, load_packs
from services.query.text import unaccent

# Acronyms: 2-5 capital letters, Latin or Cyrillic, with optional dots (US, U.S., НАТО, ЄС).
_ACRONYM = re.compile(r"^(?:[^\W\d_a-zа-яёіїєґ]\.?){2,5}$")
FIELDS = ("title", "summary", "body")
# An alias ending in * matches every word starting with it: Slavic case forms ("Україн*":
# України, Україні, Україною) and German compounds ("Bundeswehr*").
PREFIX = "*"


@dataclass(frozen=True)
class EntityInfo:
    id: str
    kind: str
    name: str


@dataclass(frozen=True)
class _Automata:
    """The aliases one article is matched against: as written (acronyms) and folded."""

    exact: ahocorasick.Automaton
    folded: ahocorasick.Automaton
    # Folding: lower case, and for languages other than English also without accents, so
    # "Selenskyj" in a German text and "Соединенные Штаты" (pycountry writes ё) are found.
    unaccented: bool


def _automaton(
    entries: Iterable[tuple[str, str]], fold: Callable[[str], str]
) -> ahocorasick.Automaton:
    # One value per key: "Putin" (gazetteer.yaml) and "Putin*" (a pack) are one key, and the
    # prefix form, which also matches the exact word, must win whatever the order. Aliases
    # come from sets: sorted, so the same entity wins a key two entities share in every run.
    found: dict[str, tuple[str, bool]] = {}
    for alias, entity_id in sorted(entries):
        prefix = alias.endswith(PREFIX)
        key = fold(alias.removesuffix(PREFIX))
        known = found.get(key)
        if known is None or (known[0] == entity_id and prefix):
            found[key] = (entity_id, prefix)
    automaton = ahocorasick.Automaton()
    for key, (entity_id, prefix) in found.items():
        automaton.add_word(key, (len(key), entity_id, prefix))
    if len(automaton):
        automaton.make_automaton()
    return automaton


def _fold(text: str) -> str:
    return text.lower()


def _fold_unaccented(text: str) -> str:
    return unaccent(text.lower())


class Gazetteer:
    def __init__(
        self,
        entities: dict[str, EntityInfo],
        aliases: dict[str, set[str]],
        by_language: Mapping[str, dict[str, set[str]]] | None = None,
        not_names: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        """``aliases`` hold in every article; ``by_language[code]`` only in articles detected
        in that language, on top of ``aliases``, less that language's ``not_names``."""
        self.entities = entities
        self._base = self._automata(aliases, {}, unaccented=False)
        excluded = not_names or {}
        self._languages = {
            code: self._automata(aliases, extra, unaccented=True, dropped=excluded.get(code, ()))
            for code, extra in (by_language or {}).items()
        }

    @staticmethod
    def _automata(
        aliases: dict[str, set[str]],
        extra: dict[str, set[str]],
        *,
        unaccented: bool,
        dropped: Iterable[str] = (),
    ) -> _Automata:
        fold = _fold_unaccented if unaccented else _fold
        gone = {fold(name) for name in dropped}
        pairs = [
            (alias, entity_id)
            for table in (aliases, extra)
            for entity_id, names in table.items()
            for alias in names
            if fold(alias) not in gone
        ]
        acronyms = [(a, e) for a, e in pairs if _ACRONYM.match(a)]
        others = [(a, e) for a, e in pairs if not _ACRONYM.match(a)]
        return _Automata(_automaton(acronyms, str), _automaton(others, fold), unaccented)

    def languages(self) -> list[str]:
        return sorted(self._languages)

    def find(self, text: str, lang: str | None = None) -> list[tuple[int, int, str]]:
        """(start, end, entity id) of each alias on word boundaries, overlaps resolved."""
        automata = self._languages.get(lang, self._base) if lang else self._base
        found: list[tuple[int, int, str]] = []
        folded = _fold_unaccented(text) if automata.unaccented else _fold(text)
        # Folding keeps lengths but for a few letters (İ); only use folded offsets when they do.
        sources = [(automata.exact, text)]
        if len(folded) == len(text):
            sources.append((automata.folded, folded))
        for automaton, haystack in sources:
            if not len(automaton):
                continue
            size = len(haystack)
            for end, (length, entity_id, prefix) in automaton.iter(haystack):
                start = end - length + 1
                if start > 0 and haystack[start - 1].isalnum():
                    continue
                end += 1
                if prefix:  # the rest of the word belongs to the match
                    while end < size and haystack[end].isalnum():
                        end += 1
                elif end < size and haystack[end].isalnum():
                    continue
                found.append((start, end, entity_id))
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
        lang = article.language
        return {field: (text, self.find(text, lang)) for field, text in texts.items()}

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


def load_gazetteer(path: Path, languages: Path | None = None) -> Gazetteer:
    """pycountry's countries, the curated file, and the language packs (``lang/`` beside
    ``path`` unless ``languages`` names a folder) with pycountry's own translations of the
    country names into each pack's language."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    entities: dict[str, EntityInfo] = {}
    aliases: dict[str, set[str]] = {}
    for country in pycountry.countries:
        code = country.alpha_2
        entities[code] = EntityInfo(code, "country", getattr(country, "common_name", country.name))
        # "Korea, Republic of" style names are not how news writes them.
        aliases[code] = {n for n in _country_names(country) if "," not in n}
    for code, extra in (data.get("countries") or {}).items():
        _check_country(code, entities, path)
        aliases[code].update(extra)
    for item in data.get("entities") or []:
        entities[item["id"]] = EntityInfo(item["id"], item["kind"], item["name"])
        aliases.setdefault(item["id"], set()).update(item["aliases"])
    by_language: dict[str, dict[str, set[str]]] = {}
    packs = load_packs(languages or default_folder(path))
    for code, pack in packs.items():
        extra = by_language[code] = _translated_countries(code)
        for country_id, names in pack.countries.items():
            _check_country(country_id, entities, path)
            extra.setdefault(country_id, set()).update(names)
        for entity_id, names in pack.entities.items():
            if entity_id not in entities:
                raise ValueError(f"language pack {code!r}: no entity {entity_id!r} in {path}")
            extra.setdefault(entity_id, set()).update(names)
    not_names = {code: pack.not_names for code, pack in packs.items()}
    return Gazetteer(entities, aliases, by_language, not_names)


def _country_names(country: object) -> set[str]:
    name = str(getattr(country, "name", ""))
    return {name, getattr(country, "common_name", name), getattr(country, "official_name", name)}


def _check_country(code: object, entities: dict[str, EntityInfo], path: Path) -> None:
    # YAML reads a bare NO (Norway) as false: insist on known country codes.
    if not isinstance(code, str) or code not in entities or entities[code].kind != "country":
        raise ValueError(f"{path}: {code!r} is not an ISO 3166-1 alpha-2 code (quote it)")


def _translated_countries(language: str) -> dict[str, set[str]]:
    """Country names in ``language`` from pycountry's locale files (iso3166-1 domain)."""
    try:
        translation = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, [language])
    except OSError:
        return {}
    out: dict[str, set[str]] = {}
    for country in pycountry.countries:
        names = {translation.gettext(n) for n in _country_names(country)}
        out[country.alpha_2] = {n for n in names if "," not in n}
    return out
