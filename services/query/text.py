"""Words as the query language sees them, in queries and documents alike.

A word is a run of letters and digits, with inner apostrophes kept (``Ukraine's``); case is
folded (``casefold``, so ``Straße`` matches ``strasse``). ``U.S.`` is the words ``u s``, in
queries too, so the two sides always agree.
"""

import re
from itertools import accumulate

_WORDS = re.compile(r"\w+(?:['’]\w+)*", re.UNICODE)
_CAPTURING = re.compile(r"(\w+(?:['’]\w+)*)", re.UNICODE)


def _fold(text: str) -> str:
    return text.casefold().replace("’", "'")


def words(text: str) -> list[str]:
    """The folded words of ``text``: the words ``words_with_offsets`` gives."""
    folded = _fold(text)
    if len(folded) == len(text):
        return _WORDS.findall(folded)
    return [_fold(w) for w in _WORDS.findall(text)]


def words_with_offsets(text: str) -> tuple[list[str], list[int], list[int]]:
    """(folded words, their start offsets, their end offsets) into ``text``, in one regex pass.

    Splitting on a capturing pattern yields separators and words in turn; their running
    lengths (summed in C) are the words' starts and ends. 140 µs on the seed article against
    115 µs for ``words`` alone and 225 µs more for per-match offsets (``finditer``).
    """
    folded = _fold(text)
    same = len(folded) == len(text)
    parts = _CAPTURING.split(folded if same else text)
    found = parts[1::2]
    if not same:
        found = [_fold(w) for w in found]
    bounds = list(accumulate(map(len, parts)))
    return found, bounds[0::2][: len(found)], bounds[1::2]
