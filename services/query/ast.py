"""Query syntax trees. Immutable; ``str(node)`` prints a canonical form."""

from dataclasses import dataclass
from typing import Literal

TextField = Literal["title", "summary", "body", "any"]
Predicate = Literal["entity", "topic", "lang", "source"]
Comparison = Literal["<", "<=", ">", ">=", "="]


@dataclass(frozen=True)
class Term:
    """One word; ``prefix``: it ends in ``*`` and matches every word starting with ``text``;
    ``infix``: it starts with ``*`` and matches every word ending with ``text`` (with both,
    every word containing it): the parts of German compounds, ``*garantie*`` in
    ``Sicherheitsgarantien``. Leading wildcards stand on single words only, not in phrases."""

    text: str
    prefix: bool = False
    field: TextField = "any"
    infix: bool = False

    def __str__(self) -> str:
        word = ("*" if self.infix else "") + self.text + ("*" if self.prefix else "")
        return word if self.field == "any" else f"{self.field}:{word}"


@dataclass(frozen=True)
class Phrase:
    """Words in order, adjacent; each may be a prefix."""

    words: tuple[Term, ...]
    field: TextField = "any"

    def __str__(self) -> str:
        body = '"' + " ".join(str(w) for w in self.words) + '"'
        return body if self.field == "any" else f"{self.field}:{body}"


@dataclass(frozen=True)
class Near:
    left: "Node"
    right: "Node"
    distance: int

    def __str__(self) -> str:
        return f"({self.left} NEAR/{self.distance} {self.right})"


@dataclass(frozen=True)
class And:
    children: tuple["Node", ...]

    def __str__(self) -> str:
        return "(" + " AND ".join(str(c) for c in self.children) + ")"


@dataclass(frozen=True)
class Or:
    children: tuple["Node", ...]

    def __str__(self) -> str:
        return "(" + " OR ".join(str(c) for c in self.children) + ")"


@dataclass(frozen=True)
class Not:
    child: "Node"

    def __str__(self) -> str:
        return f"NOT {self.child}"


@dataclass(frozen=True)
class Has:
    """A metadata predicate: ``entity:UA``, ``topic:...``, ``lang:en``, ``source:...``."""

    kind: Predicate
    value: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


@dataclass(frozen=True)
class Sentiment:
    op: Comparison
    value: float

    def __str__(self) -> str:
        return f"sentiment:{self.op}{self.value:g}"


Node = Term | Phrase | Near | And | Or | Not | Has | Sentiment
# What NEAR can relate: things with positions in the text.
Positional = Term | Phrase | Or
