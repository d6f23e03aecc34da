"""Why a query does or does not match: the rule as a tree, each node marked and evidenced."""

from services.query.ast import And, Near, Node, Not, Or
from services.query.document import QueryDocument
from services.query.evaluate import evaluate

_LABEL_CHARS = 90


def _children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, And | Or):
        return node.children
    if isinstance(node, Not):
        return (node.child,)
    if isinstance(node, Near):
        return (node.left, node.right)
    return ()


def _label(node: Node) -> str:
    if isinstance(node, And):
        return "ALL of"
    if isinstance(node, Or):
        return "ANY of" if len(str(node)) > _LABEL_CHARS else str(node)
    if isinstance(node, Near):
        return f"within {node.distance} words of each other"
    if isinstance(node, Not):
        return "NOT"
    return str(node)


def explain(node: Node, doc: QueryDocument, depth: int = 0, max_evidence: int = 6) -> list[str]:
    """Indented lines: ✓/✗, the clause, and the text that satisfied it."""
    match = evaluate(node, doc)
    seen: list[str] = []
    for hit in match.hits:
        item = f'"{hit.text}" ({hit.field})'
        if item not in seen:
            seen.append(item)
    evidence = ", ".join(seen[:max_evidence]) + (" …" if len(seen) > max_evidence else "")
    line = f"{'  ' * depth}{'✓' if match.matched else '✗'} {_label(node)}"
    if evidence and not isinstance(node, And):
        line += f": {evidence}"
    lines = [line]
    children = _children(node)
    if isinstance(node, Or) and len(str(node)) <= _LABEL_CHARS:
        children = ()  # the label already lists them
    for child in children:
        lines.extend(explain(child, doc, depth + 1, max_evidence))
    return lines
