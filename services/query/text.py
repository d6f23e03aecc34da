"""Words as the query language sees them, in queries and documents alike.

A word is a run of letters and digits, with inner apostrophes kept (``Ukraine's``); case is
folded (``casefold``, so ``Straße`` matches ``strasse``). ``U.S.`` is the words ``u s``, in
queries too, so the two sides always agree.
"""

import re

_WORDS = re.compile(r"\w+(?:['’]\w+)*", re.UNICODE)


def words(text: str) -> list[str]:
    """The folded words of ``text``; the same sequence as ``spans`` (offsets line up)."""
    folded = text.casefold().replace("’", "'")
    if len(folded) == len(text):
        return _WORDS.findall(folded)
    return [w.casefold().replace("’", "'") for w in _WORDS.findall(text)]


def spans(text: str) -> list[tuple[str, int, int]]:
    """(folded word, start, end) for each word, offsets into ``text``."""
    return [
        (m.group(0).casefold().replace("’", "'"), m.start(), m.end()) for m in _WORDS.finditer(text)
    ]
