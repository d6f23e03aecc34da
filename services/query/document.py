"""An article as the evaluator reads it: words with positions per field, and metadata."""

import bisect
from dataclasses import dataclass, field

from services.query.ast import TextField
from services.query.text import spans

# Fields are laid end to end in one position space with this gap between them, so NEAR and
# phrases never join the end of the title to the start of the summary.
_FIELD_GAP = 1000
FIELDS: tuple[TextField, ...] = ("title", "summary", "body")


@dataclass
class QueryDocument:
    words: list[str]
    originals: list[tuple[str, int, int]]  # field's text index, start, end of each word
    texts: list[str]
    field_ranges: dict[TextField, tuple[int, int]]
    entities: frozenset[str] = frozenset()
    topics: frozenset[str] = frozenset()
    lang: str | None = None
    source: str | None = None
    sentiment: float | None = None
    _index: dict[str, list[int]] = field(default_factory=dict)
    _vocabulary: list[str] = field(default_factory=list)

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
        originals: list[tuple[str, int, int]] = []
        ranges: dict[TextField, tuple[int, int]] = {}
        for n, (name, text) in enumerate(zip(FIELDS, texts, strict=True)):
            if n:  # a gap of positions no word occupies
                folded.extend([""] * _FIELD_GAP)
                originals.extend([("0", 0, 0)] * _FIELD_GAP)
            start = len(folded)
            for word, s, e in spans(text):
                folded.append(word)
                originals.append((str(n), s, e))
            ranges[name] = (start, len(folded))
        index: dict[str, list[int]] = {}
        for pos, word in enumerate(folded):
            if word:
                index.setdefault(word, []).append(pos)
        return cls(
            words=folded,
            originals=originals,
            texts=texts,
            field_ranges=ranges,
            entities=entities,
            topics=topics,
            lang=lang.lower() if lang else None,
            source=source,
            sentiment=sentiment,
            _index=index,
            _vocabulary=sorted(index),
        )

    def positions(self, word: str, prefix: bool) -> list[int]:
        """Where ``word`` (or, with ``prefix``, any word starting with it) stands, in order."""
        if not prefix:
            return self._index.get(word, [])
        out: list[int] = []
        i = bisect.bisect_left(self._vocabulary, word)
        while i < len(self._vocabulary) and self._vocabulary[i].startswith(word):
            out.extend(self._index[self._vocabulary[i]])
            i += 1
        return sorted(out)

    def in_field(self, position: int, scope: TextField) -> bool:
        if scope == "any":
            return True
        start, end = self.field_ranges[scope]
        return start <= position < end

    def field_of(self, position: int) -> TextField:
        for name, (start, end) in self.field_ranges.items():
            if start <= position < end:
                return name
        return "any"

    def text_of(self, start: int, end: int) -> str:
        """The original text from word ``start`` to word ``end - 1``."""
        field_index, s, _ = self.originals[start]
        _, _, e = self.originals[end - 1]
        return self.texts[int(field_index)][s:e]
