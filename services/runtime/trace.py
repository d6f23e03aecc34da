"""W3C Trace Context ``traceparent`` (and ``tracestate``) values: parse, start a trace,
continue one (pure).

One article is followed through every stage by its trace id: each stage reads the input
record's ``traceparent`` header, logs its trace id, and writes a child (same trace id, its own
span id) on every output record, and the webhook request carries one too. A missing or
malformed value is never an error (headers come from whoever produced the record): the
stage starts a new trace instead. https://www.w3.org/TR/trace-context/#traceparent-header
"""

import re
import secrets
from dataclasses import dataclass

from services.runtime.dlq import Headers

HEADER = "traceparent"
# Vendor trace data that travels with a traceparent, passed on unchanged (W3C allows 32
# members, 512 characters is what a receiver must accept; longer is dropped, not cut).
STATE_HEADER = "tracestate"
MAX_STATE = 512

_VERSION = "00"
_SAMPLED = "01"
_LENGTH = 55  # "00-" + 32 + "-" + 16 + "-" + 2
_FIELDS = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16


@dataclass(frozen=True)
class TraceParent:
    """A valid ``traceparent``: ``trace_id`` names the article's whole journey, ``span_id``
    the stage (or request) that wrote it; ``flags`` are passed on unchanged."""

    trace_id: str
    span_id: str
    flags: str = _SAMPLED
    # The input's tracestate, when its traceparent was valid (the spec drops it otherwise).
    state: bytes | None = None

    def header_value(self) -> str:
        return f"{_VERSION}-{self.trace_id}-{self.span_id}-{self.flags}"

    def child(self) -> "TraceParent":
        """The same trace, a new span: what this stage writes downstream."""
        return TraceParent(self.trace_id, _new_span_id(), self.flags, self.state)


def parse(value: str | bytes | None) -> TraceParent | None:
    """The value's trace context, or None when it is absent or not valid.

    Version 00 must be exactly 55 characters. A later version (01-fe) is read by its first
    four fields, as the spec asks, so a newer producer's trace is continued (as version 00).
    """
    if value is None or len(value) < _LENGTH:
        return None
    length = len(value)
    head = value[: _LENGTH + 1]  # nothing past this matters; a header may be any size
    if isinstance(head, bytes):
        try:
            head = head.decode("ascii")
        except UnicodeDecodeError:
            return None
    match = _FIELDS.match(head)
    if match is None:
        return None
    version, trace_id, span_id, flags = match.groups()
    if version == "ff":
        return None
    if version == _VERSION and length != _LENGTH:
        return None
    if length > _LENGTH and head[_LENGTH] != "-":
        return None
    if trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
        return None
    return TraceParent(trace_id, span_id, flags)


def new_trace() -> TraceParent:
    """A new trace, sampled: nobody upstream said where this record came from."""
    trace_id = _ZERO_TRACE
    while trace_id == _ZERO_TRACE:  # all zeros is invalid; 1 in 2**128, but cheap to rule out
        trace_id = secrets.token_hex(16)
    return TraceParent(trace_id, _new_span_id())


def _new_span_id() -> str:
    span_id = _ZERO_SPAN
    while span_id == _ZERO_SPAN:
        span_id = secrets.token_hex(8)
    return span_id


def from_headers(headers: Headers | None) -> TraceParent | None:
    """The record's valid ``traceparent``, if any (the spec allows only one; the last of
    repeated headers wins, as elsewhere in newswire)."""
    found: bytes | None = None
    state: bytes | None = None
    for key, value in headers or []:
        if key == HEADER:
            found = value
        elif key == STATE_HEADER:
            state = value
    parent = parse(found)
    if parent is not None and state and len(state) <= MAX_STATE and state.isascii():
        return TraceParent(parent.trace_id, parent.span_id, parent.flags, state)
    return parent


def continue_from(headers: Headers | None) -> TraceParent:
    """The span this stage works in for one record: a child of the record's trace, or the
    root of a new trace when the record has none (or an invalid one)."""
    parent = from_headers(headers)
    return parent.child() if parent is not None else new_trace()


def with_traceparent(headers: Headers, span: TraceParent) -> Headers:
    """``headers`` with ``traceparent`` set to ``span`` and ``tracestate`` to its state
    (replacing any other values; no state, no tracestate)."""
    kept = [h for h in headers if h[0] not in (HEADER, STATE_HEADER)]
    kept.append((HEADER, span.header_value().encode()))
    if span.state:
        kept.append((STATE_HEADER, span.state))
    return kept
