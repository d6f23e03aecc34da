"""Query text → AST. Precedence, loosest first: OR, AND (also implied by juxtaposition),
NOT / ``-``, NEAR/n, then terms, phrases, fields and parentheses."""

from services.query.ast import (
    And,
    Comparison,
    Has,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    Sentiment,
    Term,
    TextField,
)
from services.query.lexer import LexError, Token, tokenize
from services.query.text import words

TEXT_FIELDS: dict[str, TextField] = {"title": "title", "summary": "summary", "body": "body"}
PREDICATES = ("entity", "topic", "lang", "source")
MAX_NEAR = 100
MAX_QUERY_CHARS = 4000
# A leading wildcard tests every word of an article; under 3 letters it would match most.
MIN_INFIX = 3


class QuerySyntaxError(ValueError):
    """What is wrong and where: ``position`` is a character offset into the query."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} (at character {position})")
        self.message = message
        self.position = position


class _Parser:
    def __init__(self, query: str) -> None:
        try:
            self.tokens = tokenize(query)
        except LexError as exc:
            raise QuerySyntaxError(exc.message, exc.position) from exc
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def expect(self, kind: str, what: str) -> Token:
        if self.tok.kind != kind:
            raise QuerySyntaxError(
                f"expected {what}, found {self.describe(self.tok)}", self.tok.start
            )
        return self.take()

    @staticmethod
    def describe(tok: Token) -> str:
        return "end of query" if tok.kind == "END" else repr(tok.text or tok.kind)

    def parse(self) -> Node:
        if self.tok.kind == "END":
            raise QuerySyntaxError("empty query", 0)
        node = self.or_expr()
        rest = self.tokens[self.i]
        if rest.kind != "END":
            raise QuerySyntaxError(f"unexpected {self.describe(rest)}", rest.start)
        return node

    def or_expr(self) -> Node:
        children = [self.and_expr()]
        while self.tok.kind == "OR":
            self.take()
            children.append(self.and_expr())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def and_expr(self) -> Node:
        children = [self.not_expr()]
        while self.tok.kind in ("AND", "NOT", "MINUS", "WORD", "PHRASE", "LPAREN", "FIELD"):
            if self.tok.kind == "AND":
                self.take()
            children.append(self.not_expr())
        return children[0] if len(children) == 1 else And(tuple(children))

    def not_expr(self) -> Node:
        if self.tok.kind in ("NOT", "MINUS"):
            self.take()
            return Not(self.not_expr())
        return self.near_expr()

    def near_expr(self) -> Node:
        left = self.primary()
        while self.tok.kind == "NEAR":
            tok = self.take()
            distance = int(tok.text)
            if not 1 <= distance <= MAX_NEAR:
                raise QuerySyntaxError(f"NEAR distance must be 1..{MAX_NEAR}", tok.start)
            right = self.primary()
            for side, at in ((left, tok.start), (right, tok.end)):
                if not _positional(side):
                    raise QuerySyntaxError("NEAR relates words, phrases or OR-groups of them", at)
            left = Near(left, right, distance)
        return left

    def primary(self, field: TextField = "any") -> Node:
        tok = self.tok
        if tok.kind == "LPAREN":
            self.take()
            node = self.or_expr()
            self.expect("RPAREN", "')'")
            return _scoped(node, field)
        if tok.kind == "PHRASE":
            self.take()
            return _phrase(tok, field)
        if tok.kind == "WORD":
            self.take()
            return _word(tok, field)
        if tok.kind == "FIELD":
            return self.fielded()
        if tok.kind in ("AND", "OR", "NEAR"):
            raise QuerySyntaxError(f"{tok.text or tok.kind} needs something before it", tok.start)
        raise QuerySyntaxError(f"expected a term, found {self.describe(tok)}", tok.start)

    def fielded(self) -> Node:
        tok = self.take()
        name = tok.text
        if name in TEXT_FIELDS:
            if self.tok.kind in ("END", "RPAREN"):
                raise QuerySyntaxError(f"{name}: needs a term", tok.end)
            return self.primary(TEXT_FIELDS[name])
        if name in PREDICATES:
            value = self.tok
            if value.kind not in ("WORD", "PHRASE"):
                raise QuerySyntaxError(f"{name}: needs a value", tok.end)
            self.take()
            return Has(name, value.text.strip().lower() if name == "lang" else value.text.strip())  # type: ignore[arg-type]
        if name == "sentiment":
            value = self.expect("WORD", "a comparison such as <-0.3")
            return _sentiment(value)
        raise QuerySyntaxError(
            f"unknown field {name!r} (title, summary, body, {', '.join(PREDICATES)}, sentiment)",
            tok.start,
        )


def _positional(node: Node) -> bool:
    if isinstance(node, Term | Phrase):
        return True
    return isinstance(node, Or) and all(_positional(c) for c in node.children)


def _word(tok: Token, field: TextField) -> Node:
    text = tok.text
    prefix = text.endswith("*")
    infix = text.startswith("*") and len(text) > 1
    core = text.strip("*")
    parts = words(core)
    if not parts:
        raise QuerySyntaxError("a wildcard needs letters before it", tok.start)
    if len(parts) == 1:
        if infix and len(parts[0]) < MIN_INFIX:
            raise QuerySyntaxError(
                f"a leading wildcard needs at least {MIN_INFIX} letters after it", tok.start
            )
        return Term(parts[0], prefix, field, infix)
    if infix:
        raise QuerySyntaxError("a leading wildcard stands on a single word", tok.start)
    # U.S. or e-mail: the document sees several words, so the query does too.
    terms = [Term(p, False, field) for p in parts]
    terms[-1] = Term(parts[-1], prefix, field)
    return Phrase(tuple(terms), field)


def _phrase(tok: Token, field: TextField) -> Node:
    terms: list[Term] = []
    for raw in tok.text.split():
        if raw.startswith("*"):
            raise QuerySyntaxError("a leading wildcard stands on a single word", tok.start)
        prefix = raw.endswith("*")
        parts = words(raw.rstrip("*"))
        terms.extend(Term(p, False, field) for p in parts[:-1])
        if parts:
            terms.append(Term(parts[-1], prefix, field))
    if not terms:
        raise QuerySyntaxError("empty phrase", tok.start)
    return terms[0] if len(terms) == 1 else Phrase(tuple(terms), field)


def _scoped(node: Node, field: TextField) -> Node:
    """Applies a field scope to every term and phrase below ``node``."""
    if field == "any":
        return node
    if isinstance(node, Term):
        return Term(node.text, node.prefix, field, node.infix)
    if isinstance(node, Phrase):
        return Phrase(tuple(Term(w.text, w.prefix, field) for w in node.words), field)
    if isinstance(node, And):
        return And(tuple(_scoped(c, field) for c in node.children))
    if isinstance(node, Or):
        return Or(tuple(_scoped(c, field) for c in node.children))
    if isinstance(node, Not):
        return Not(_scoped(node.child, field))
    if isinstance(node, Near):
        return Near(_scoped(node.left, field), _scoped(node.right, field), node.distance)
    return node


def _sentiment(tok: Token) -> Sentiment:
    text = tok.text
    op: Comparison = "="
    candidates: tuple[Comparison, ...] = ("<=", ">=", "<", ">", "=")
    for candidate in candidates:
        if text.startswith(candidate):
            op = candidate
            text = text[len(candidate) :]
            break
    try:
        value = float(text)
    except ValueError:
        raise QuerySyntaxError(f"sentiment needs a number, got {tok.text!r}", tok.start) from None
    if not -1.0 <= value <= 1.0:
        raise QuerySyntaxError("sentiment is between -1 and 1", tok.start)
    return Sentiment(op, value)


def parse(query: str) -> Node:
    if len(query) > MAX_QUERY_CHARS:
        raise QuerySyntaxError(f"query longer than {MAX_QUERY_CHARS} characters", MAX_QUERY_CHARS)
    return _Parser(query).parse()
