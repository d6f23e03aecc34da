"""An article as the evaluator reads it: words with positions per field, and metadata."""

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field

from services.query.ast import TextField
from services.query.text import unaccent, words_with_offsets

# Fields are laid end to end in one position space; phrases and NEAR only join words of one
# field (field_ranges tells which), so the end of the title never runs into the summary.
FIELDS: tuple[TextField, ...] = ("title", "summary", "body")
HEAD = 4


@dataclass
class QueryDocument:
    words: list[str]
    texts: list[str]
    field_ranges: dict[TextField, tuple[int, int]]
    entities: frozenset[str] = frozenset()
    topics: frozenset[str] = frozenset()
    lang: str | None = None
    source: str | None = None
    sentiment: float | None = None
    # ``words`` without diacritics, when any word has them (else None): phrases compare a
    # query word with both (services/query/text.py on accents).
    plain: list[str] | None = None
    _index: dict[str, list[int]] = field(default_factory=dict)
    _vocabulary: list[str] | None = None
    # The first HEAD letters of every word (and plain form), built at the first prefix test.
    _heads: set[str] | None = None
    # Positions per prefix: rules share prefixes (ukrain*, guarantee*) in distinct nodes.
    _prefixed: dict[str, list[int]] = field(default_factory=dict)
    # Spans per query node: taxonomy rules share terms (ukrain*, russia*), and every rule is
    # evaluated against the same document.
    span_cache: dict[int, tuple[object, list[tuple[int, int]]]] = field(default_factory=dict)
    # Character offsets of each field's words (starts, ends), for evidence text.
    _offsets: dict[TextField, tuple[list[int], list[int]]] = field(default_factory=dict)
    _located: dict[tuple[int, int], tuple[str, TextField]] = field(default_factory=dict)
    # Where the title, the summary and the body end (word positions), for field_of.
    _ends: tuple[int, int, int] = (0, 0, 0)

    @classmethod
    def build(
        cls,
        title: str,
        summary: list[str] | str = "",
        body: str = "",
        *,
        entities: frozenset[str] = frozenset(),
        topics: frozenset[str] = frozenset(),
        lang: str | None = None,
        source: str | None = None,
        sentiment: float | None = None,
    ) -> "QueryDocument":
        summary_text = summary if isinstance(summary, str) else "\n".join(summary)
        texts = [title, summary_text, body]
        folded: list[str] = []
        ranges: dict[TextField, tuple[int, int]] = {}
        offsets: dict[TextField, tuple[list[int], list[int]]] = {}
        for name, text in zip(FIELDS, texts, strict=True):
            first = len(folded)
            found, starts, ends = words_with_offsets(text)
            folded.extend(found)
            ranges[name] = (first, len(folded))
            offsets[name] = (starts, ends)
        index: dict[str, list[int]] = {}
        for pos, word in enumerate(folded):
            index.setdefault(word, []).append(pos)
        plain = _plain_forms(folded, index)
        return cls(
            words=folded,
            texts=texts,
            field_ranges=ranges,
            entities=entities,
            topics=topics,
            lang=lang.lower() if lang else None,
            source=source,
            sentiment=sentiment,
            plain=plain,
            _index=index,
            _offsets=offsets,
            _ends=(ranges["title"][1], ranges["summary"][1], ranges["body"][1]),
        )

    def word_pairs(self) -> set[str]:
        """ "a b" for each two adjacent words of one field, accented and plain forms mixed in
        every way a phrase can match them (the percolator's keys for two-word phrases)."""
        pairs: set[str] = set()
        variants = [self.words] if self.plain is None else [self.words, self.plain]
        for start, end in self.field_ranges.values():
            if end - start < 2:
                continue
            for first in variants:
                for second in variants:
                    after = second[start + 1 : end]
                    pairs.update(map(" ".join, zip(first[start : end - 1], after, strict=True)))
        return pairs

    def vocabulary(self) -> Iterable[str]:
        """The distinct words of the document."""
        return self._index.keys()

    def has_word(self, word: str) -> bool:
        return word in self._index

    def has_any(self, words: frozenset[str]) -> bool:
        """Whether any of ``words`` (whole words) occurs."""
        return not self._index.keys().isdisjoint(words)

    def contains(self, word: str, prefix: bool) -> bool:
        """Whether ``word`` (or, with ``prefix``, a word starting with it) occurs at all."""
        if not prefix:
            return word in self._index
        # Rule prefilters test hundreds of stems an article (Slavic packs spell out many):
        # most fail on their first four letters, a set lookup, before any bisection.
        if len(word) >= HEAD and word[:HEAD] not in self.heads():
            return False
        vocabulary = self._sorted_vocabulary()
        i = bisect.bisect_left(vocabulary, word)
        return i < len(vocabulary) and vocabulary[i].startswith(word)

    def heads(self) -> set[str]:
        """The first HEAD letters of every word and plain form (all of a shorter one)."""
        heads = self._heads
        if heads is None:
            heads = self._heads = {w[:HEAD] for w in self._index}
        return heads

    def _sorted_vocabulary(self) -> list[str]:
        if self._vocabulary is None:
            self._vocabulary = sorted(self._index)  # only documents queried with a prefix
        return self._vocabulary

    def positions(self, word: str, prefix: bool) -> list[int]:
        """Where ``word`` (or, with ``prefix``, any word starting with it) stands, in order."""
        if not prefix:
            return self._index.get(word, [])
        cached = self._prefixed.get(word)
        if cached is not None:
            return cached
        vocabulary = self._sorted_vocabulary()
        out: list[int] = []
        i = bisect.bisect_left(vocabulary, word)
        while i < len(vocabulary) and vocabulary[i].startswith(word):
            out.extend(self._index[vocabulary[i]])
            i += 1
        out.sort()
        self._prefixed[word] = out
        return out

    def term_positions(self, word: str, prefix: bool, infix: bool) -> list[int]:
        """``positions``, or with ``infix`` where a word ends with ``word`` (with ``prefix``
        too: contains it), scanning the vocabulary (compound parts: ``*garantie*``)."""
        if not infix:
            return self.positions(word, prefix)
        key = f"*{word}*" if prefix else f"*{word}"
        cached = self._prefixed.get(key)
        if cached is not None:
            return cached
        found: set[int] = set()
        for known, at in self._index.items():
            if word in known if prefix else known.endswith(word):
                found.update(at)  # a word and its plain form may both hold: a set
        out = self._prefixed[key] = sorted(found)
        return out

    def in_field(self, position: int, scope: TextField) -> bool:
        if scope == "any":
            return True
        start, end = self.field_ranges[scope]
        return start <= position < end

    def field_of(self, position: int) -> TextField:
        # Fields lie end to end from position 0 in FIELDS order (build lays them so): three
        # comparisons, where a loop over field_ranges cost a quarter of tagging's hit lookups.
        title, summary, body = self._ends
        if position < title:
            return "title"
        if position < summary:
            return "summary"
        if position < body:
            return "body"
        return "any"

    def field_end(self, position: int) -> int:
        """One past the last word of the field holding ``position``."""
        title, summary, body = self._ends
        if position < title:
            return title
        if position < summary:
            return summary
        if position < body:
            return body
        return position

    def text_of(self, start: int, end: int) -> str:
        """The original text from word ``start`` to word ``end - 1`` (one field)."""
        return self.located(start, end)[0]

    def located(self, start: int, end: int) -> tuple[str, TextField]:
        """(the original text of words ``start`` to ``end - 1``, its field), memoised: rules
        that match share their evidence (every Ukraine rule cites "Ukraine")."""
        span = (start, end)
        found = self._located.get(span)
        if found is None:
            name = self.field_of(start)
            text = self.texts[FIELDS.index(name)]
            starts, ends = self._offsets[name]
            first = self.field_ranges[name][0]
            found = self._located[span] = (
                text[starts[start - first] : ends[end - 1 - first]],
                name,
            )
        return found


def _plain_forms(words: list[str], index: dict[str, list[int]]) -> list[str] | None:
    """File each accented word's positions under its plain form too; the plain words, or None
    when no word has an accent. Positions stay in order: a plain form's list gets its own
    positions and those of its accented spellings, merged. ``unaccent`` maps one character
    to one, so the words are translated joined, in one call (one call a word cost ~0.2 ms
    an article)."""
    if all(map(str.isascii, index)):
        return None
    vocabulary = list(index)
    plain_vocabulary = unaccent("\n".join(vocabulary)).split("\n")
    forms: dict[str, list[int]] = {
        form: [] for word, form in zip(vocabulary, plain_vocabulary, strict=True) if form != word
    }
    if not forms:
        return None
    plain = unaccent("\n".join(words)).split("\n")
    for pos, form in enumerate(plain):
        found = forms.get(form)
        if found is not None:
            found.append(pos)
    index.update(forms)
    return plain
