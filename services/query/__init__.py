"""The query language enrich's taxonomy and notify's subscriptions share.

::

    "security guarantee*" NEAR/10 (Ukraine OR Kyiv) AND NOT title:opinion
    entity:UA AND topic:ukraine-security-guarantees AND lang:en AND sentiment:<-0.3

- terms, case-insensitive, ``*`` as a suffix wildcard (``guarantee*``);
- ``"quoted phrases"`` (words in order, wildcards allowed inside);
- ``AND``, ``OR``, ``NOT`` (also ``-term``), parentheses; juxtaposition means AND;
- ``a NEAR/n b``: a match of ``a`` within ``n`` words of a match of ``b``, either order;
- field scopes ``title:``, ``summary:``, ``body:`` narrow a term, phrase or group;
- predicates ``entity:``, ``topic:``, ``lang:``, ``source:``, ``sentiment:`` (with ``<``,
  ``<=``, ``>``, ``>=``) test the enriched article's metadata.

``parse`` gives an AST or a :class:`QuerySyntaxError` with the position of the problem;
``evaluate`` tells whether a :class:`QueryDocument` matches, with the spans that made it.
"""

from services.query.ast import Node
from services.query.document import QueryDocument
from services.query.evaluate import Hit, Match, evaluate
from services.query.parser import QuerySyntaxError, parse

__all__ = ["Hit", "Match", "Node", "QueryDocument", "QuerySyntaxError", "evaluate", "parse"]
