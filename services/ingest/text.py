"""Text clean-up applied to every field of every format. Pure.

- Unicode NFC;
- control characters, zero-width characters and bidi overrides removed (``Ukr\\u200baine``
  reads ``Ukraine``; a right-to-left override cannot disguise a title);
- markup reduced to text with lexbor (selectolax): script, style and their kin dropped, so no
  script or event-handler content survives, and entities decoded;
- whitespace collapsed (paragraph breaks kept in bodies).
"""

import re
import unicodedata

from selectolax.lexbor import LexborHTMLParser

# Cc (controls) except \t \n; zero-width and joiners; bidi embeddings, overrides, isolates;
# BOM; soft hyphen; invisible operators.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]"
)
_TAG = re.compile(r"<[a-zA-Z!/?][^>]*>|&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z]{2,8});")
_SPACES = re.compile(r"[^\S\n]+")
_LINE_EDGES = re.compile(r" ?\n ?")
_BLANK_LINES = re.compile(r"\s*\n\s*\n\s*")
_DROP_TAGS = ["script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "head"]


def strip_markup(text: str) -> str:
    """Markup to plain text; text without markup is returned as it is."""
    if not _TAG.search(text):
        return text
    tree = LexborHTMLParser(f"<body>{text}</body>")
    tree.strip_tags(_DROP_TAGS)
    # Block elements end lines so paragraphs do not run together.
    for node in tree.css("p, div, br, li, h1, h2, h3, h4, h5, h6, blockquote, tr"):
        node.insert_after("\n\n")
    body = tree.body
    return body.text(separator="") if body is not None else ""


def clean_inline(text: str) -> str:
    """A one-line field (title, author): no markup, no invisible characters, single spaces."""
    text = unicodedata.normalize("NFC", strip_markup(text))
    text = _INVISIBLE.sub("", text)
    return " ".join(text.split())


def clean_block(text: str) -> str:
    """A multi-paragraph field (body, context): like clean_inline, paragraphs kept."""
    text = (
        unicodedata.normalize("NFC", strip_markup(text)).replace("\r\n", "\n").replace("\r", "\n")
    )
    text = _INVISIBLE.sub("", text)
    text = _LINE_EDGES.sub("\n", _SPACES.sub(" ", text))
    return _BLANK_LINES.sub("\n\n", text).strip()
