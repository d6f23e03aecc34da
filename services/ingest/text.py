"""Text clean-up applied to every field of every format. Pure.

- Unicode NFC;
- control characters, zero-width characters and bidi overrides removed (``Ukr\\u200baine``
  reads ``Ukraine``; a right-to-left override cannot disguise a title);
- markup reduced to text with lexbor (selectolax): script, style and their kin dropped, so no
  script or event-handler content survives, and entities decoded; markup that decoding
  reveals (``&lt;script&gt;``, double-encoded by a CMS or by an attacker) is stripped too;
- markup nested deeper than :data:`MAX_MARKUP_DEPTH` refused before lexbor sees it (its tree
  builder costs the nesting depth per start tag: 100,000 nested ``<div>`` took 23 s of CPU);
- whitespace collapsed (paragraph breaks kept in bodies).
"""

import re
import unicodedata
from itertools import accumulate
from operator import sub

from selectolax.lexbor import LexborHTMLParser

from services.ingest.limits import MAX_MARKUP_DEPTH
from services.ingest.parse.errors import ParseError

# Deleted from every field: C0/C1 controls except tab and newline; soft hyphen; zero-width
# spaces and joiners; bidi embeddings, overrides and isolates; word joiner and invisible
# operators; BOM. str.translate does this in one C-level pass.
_INVISIBLE = dict.fromkeys(
    [
        *range(0x00, 0x09),
        *range(0x0B, 0x20),
        *range(0x7F, 0xA0),
        0x00AD,
        *range(0x200B, 0x2010),
        *range(0x202A, 0x202F),
        *range(0x2060, 0x2065),
        *range(0x2066, 0x2070),
        0xFEFF,
    ]
)
_TAG = re.compile(r"<[a-zA-Z!/?][^>]*>|&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z]{2,8});")
_DROP_TAGS = ["script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "head"]

# One level of entity-encoding is normal (RSS descriptions); more is a CMS bug or an attack.
# Text still opening tags after these rounds loses its "<" instead of being parsed again.
_MAX_STRIP_ROUNDS = 3
# A tag opener, closed or not ("<script src=//x" at the end of a field becomes a tag in
# whatever page the field is pasted into), or one still entity-encoded: a reader that decodes
# the field once more would find the tag.
_LESS_THAN = r"(?:<|&lt;|&#0*60;|&#x0*3c;)"
_TAG_OPEN = re.compile(_LESS_THAN + r"[a-z!/?]", re.IGNORECASE)
_ANY_LESS_THAN = re.compile(_LESS_THAN, re.IGNORECASE)
# The depth estimate skips comments, script and style bodies whole (an unclosed one runs to
# the end, as in a browser, so the scan stays linear), and counts the other tags except void
# elements (never hold children) and those whose end tag is optional (<p>, <li>, <td> are
# closed by their next sibling; pages often leave them open); those nest only inside a
# container that does count (<ul>, <table>, <dl>, <select>).
_SKIPPED = re.compile(r"<!--.*?(?:-->|\Z)|<(script|style)\b.*?(?:</\1\s*>|\Z)", re.DOTALL)
_NO_DEPTH = (
    "area|base|br|col|embed|hr|img|input|link|meta|param|source|track|wbr"
    "|p|li|dt|dd|option|optgroup|tr|td|th|thead|tbody|tfoot|colgroup|caption|rt|rp"
    "|html|head|body"
)
# Read from lower-cased text: IGNORECASE doubles the scan's time.
_DEPTH_TAG = re.compile(rf"<(/?)(?!(?:{_NO_DEPTH})(?![a-z0-9:-]))[a-z][a-z0-9:-]*")
_DEPTH_STEP = {"": 1, "/": -1}


def check_markup_depth(text: str, limit: int = MAX_MARKUP_DEPTH) -> None:
    """Raises ParseError("html_too_deep") when elements may nest deeper than ``limit``.

    An upper estimate: open tags minus close tags (never below zero), of the elements that
    nest. Pages with fewer tags than the limit cannot nest deeper, so most fields are spared
    the scan by one C-speed count. The scan took ~3 ms for a 168 KB page of 15,000 tags,
    on which trafilatura then took ~140 ms (measured here).
    """
    if text.count("<") <= limit:
        return
    text = text.lower()
    if "<!--" in text or "<s" in text:
        text = _SKIPPED.sub("", text)
    # depth_i = S_i - min(0, min_{j<=i} S_j) for the running sum S of +1/-1: the running sum
    # with its drops below zero forgiven (a stray close tag cannot bank depth).
    sums = list(accumulate(map(_DEPTH_STEP.__getitem__, _DEPTH_TAG.findall(text))))
    lows = accumulate(sums, min, initial=0)
    next(lows)
    if max(map(sub, sums, lows), default=0) > limit:
        raise ParseError("html_too_deep", f"elements nested deeper than {limit}")


def strip_markup(text: str) -> str:
    """Markup to plain text; text without markup is returned as it is.

    Raises ParseError("html_too_deep") for markup nested deeper than MAX_MARKUP_DEPTH.
    """
    # Most fields hold no markup at all: a C-speed membership test spares the regex scan.
    if ("<" not in text and "&" not in text) or not (_TAG.search(text) or _TAG_OPEN.search(text)):
        return text
    for _ in range(_MAX_STRIP_ROUNDS):
        text = _strip_once(text)
        if not _TAG_OPEN.search(text):
            return text
        # Decoding revealed tags (&amp;lt;script&amp;gt; became &lt;script&gt; or <script>):
        # strip those too.
    return _ANY_LESS_THAN.sub("", text)


def _strip_once(text: str) -> str:
    check_markup_depth(text)
    tree = LexborHTMLParser(f"<body>{text}</body>")
    tree.strip_tags(_DROP_TAGS)
    # Block elements end lines so paragraphs do not run together.
    for node in tree.css("p, div, br, li, h1, h2, h3, h4, h5, h6, blockquote, tr"):
        node.insert_after("\n\n")
    body = tree.body
    return body.text(separator="") if body is not None else ""


def is_plain(text: str) -> bool:
    """No markup (nor entities) and no invisible characters: clean_inline would keep it."""
    return not _TAG.search(text) and text == text.translate(_INVISIBLE)


def _nfc(text: str) -> str:
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


def _collapsed(line: str) -> bool:
    """Whether ``" ".join(line.split())`` would return ``line`` unchanged, for text already
    rid of _INVISIBLE (which holds every ASCII whitespace but space, tab and newline): ASCII,
    and its only whitespace single spaces between words. C-speed scans; the split and join
    they spare cost ~4 µs a KB here."""
    return (
        line.isascii()
        and "  " not in line
        and "\t" not in line
        and "\n" not in line
        and line[:1] != " "
        and line[-1:] != " "
    )


def clean_inline(text: str) -> str:
    """A one-line field (title, author): no markup, no invisible characters, single spaces."""
    text = _nfc(strip_markup(text)).translate(_INVISIBLE)
    return text if _collapsed(text) else " ".join(text.split())


def clean_block(text: str) -> str:
    """A multi-paragraph field (body, context): like clean_inline within each line; lines of a
    paragraph kept, paragraphs separated by one blank line."""
    paragraphs: list[str] = []
    current: list[str] = []
    for line in _nfc(strip_markup(text)).translate(_INVISIBLE).splitlines():
        # split/join is the fastest whitespace collapse in CPython: 11 µs for 2.9 KB here,
        # where a regex test for "anything to collapse?" alone took 45 µs; most lines need
        # none, which _collapsed tells in a fraction of that.
        if not _collapsed(line):
            line = " ".join(line.split())
        if line:
            current.append(line)
        elif current:
            paragraphs.append("\n".join(current))
            current = []
    if current:
        paragraphs.append("\n".join(current))
    return "\n\n".join(paragraphs)
