"""Publication times as scrapers write them: ISO-8601, RFC 2822, epoch seconds or milliseconds,
and the free forms python-dateutil understands. Returns naive datetimes when the input has no
zone: the caller decides which zone that wall-clock time is in."""

import math
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from dateutil import parser as dateutil_parser

from services.ingest.parse.errors import ParseError

# Epoch values above this are milliseconds (1e11 s is the year 5138; 1e11 ms is 1973).
_MS_THRESHOLD = 100_000_000_000
_NUMERIC = re.compile(r"^\d{9,13}(\.\d+)?$")
# email.utils is lenient to a fault ("March 1, 2025 11:24 PM" comes back as 11:24): only
# strings shaped like RFC 2822 go to it, the rest to dateutil.
_RFC2822 = re.compile(r"^(?:[A-Za-z]{3},\s*)?\d{1,2}\s+[A-Za-z]{3}\s+\d{2,4}\s+\d{1,2}:\d{2}")
_MAX_LEN = 100


def from_epoch(value: float) -> datetime:
    if not math.isfinite(value) or value < 0:
        raise ParseError("invalid_timestamp", f"epoch value {value!r} out of range")
    seconds = value / 1000 if value >= _MS_THRESHOLD else value
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise ParseError("invalid_timestamp", f"epoch value {value!r}: {exc}") from exc


def parse_datetime(value: object) -> datetime:
    """Parses one timestamp value; raises ParseError("invalid_timestamp") if it is none."""
    if isinstance(value, bool):
        raise ParseError("invalid_timestamp", "a boolean is not a timestamp")
    if isinstance(value, int | float):
        return from_epoch(float(value))
    if not isinstance(value, str):
        raise ParseError("invalid_timestamp", f"unsupported timestamp type {type(value).__name__}")
    text = value.strip()
    if not text or len(text) > _MAX_LEN:
        raise ParseError("invalid_timestamp", f"timestamp of length {len(text)}")
    if _NUMERIC.match(text):
        return from_epoch(float(text))
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        pass
    if _RFC2822.match(text):
        try:
            # RSS pubDate, e-mail style: "Sat, 01 Mar 2025 23:24:00 +0000"
            return parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            pass
    try:
        return dateutil_parser.parse(text)
    except (ValueError, OverflowError, TypeError) as exc:
        raise ParseError("invalid_timestamp", f"cannot read {text!r} as a time") from exc
