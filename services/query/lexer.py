"""Tokens of the query language, each with its position in the query text."""

import re
from dataclasses import dataclass
from typing import Literal

Kind = Literal[
    "WORD", "PHRASE", "LPAREN", "RPAREN", "AND", "OR", "NOT", "NEAR", "FIELD", "MINUS", "END"
]


@dataclass(frozen=True)
class Token:
    kind: Kind
    text: str
    start: int
    end: int


class LexError(ValueError):
    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} at {position}")
        self.message = message
        self.position = position


_FIELD = re.compile(r"([A-Za-z_]+):")
_PREDICATES = {"entity", "topic", "source", "lang"}
_PREDICATE_VALUE = re.compile(r"[^\s()\"]+")
_NEAR = re.compile(r"NEAR/(\d+)(?![\w/])")
# A word: letters, digits and the joiners found inside names (U.S., Zelensky's, e-mail),
# optionally starting and/or ending in * ; or a comparison value such as <-0.3 after sentiment:.
_WORD = re.compile(r"[<>]=?-?\d+(?:\.\d+)?|=-?\d+(?:\.\d+)?|\*?[\w][\w.'’\-]*\*?|\*", re.UNICODE)


def tokenize(query: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    n = len(query)
    while i < n:
        ch = query[i]
        if ch.isspace():
            i += 1
            continue
        if ch == "(":
            tokens.append(Token("LPAREN", ch, i, i + 1))
            i += 1
            continue
        if ch == ")":
            tokens.append(Token("RPAREN", ch, i, i + 1))
            i += 1
            continue
        if ch == '"':
            close = query.find('"', i + 1)
            if close == -1:
                raise LexError("unclosed quote", i)
            tokens.append(Token("PHRASE", query[i + 1 : close], i, close + 1))
            i = close + 1
            continue
        if ch == "-" and i + 1 < n and not query[i + 1].isspace():
            tokens.append(Token("MINUS", ch, i, i + 1))
            i += 1
            continue
        near = _NEAR.match(query, i)
        if near:
            tokens.append(Token("NEAR", near.group(1), i, near.end()))
            i = near.end()
            continue
        field = _FIELD.match(query, i)
        if field:
            name = field.group(1).lower()
            tokens.append(Token("FIELD", name, i, field.end()))
            i = field.end()
            # A predicate's value runs to the next space or parenthesis, colons included:
            # entity:person:keir-starmer, entity:org:nato, source:news.example.com.
            value = _PREDICATE_VALUE.match(query, i) if name in _PREDICATES else None
            if value:
                tokens.append(Token("WORD", value.group(0), i, value.end()))
                i = value.end()
            continue
        word = _WORD.match(query, i)
        if not word:
            raise LexError(f"unexpected character {ch!r}", i)
        text = word.group(0)
        kind: Kind = text if text in ("AND", "OR", "NOT") else "WORD"  # type: ignore[assignment]
        tokens.append(Token(kind, text, i, word.end()))
        i = word.end()
    tokens.append(Token("END", "", n, n))
    return tokens
