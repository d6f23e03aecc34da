"""Dead-letter records: the original key, value and headers, plus why and where from.

Header names follow Kafka Connect's ``__connect.errors.*`` convention so existing tooling
reads them; ``newswire.error.reason`` adds our machine-readable reason code.
"""

from dataclasses import dataclass

from services.runtime.errors import InvalidMessage

Headers = list[tuple[str, bytes]]

REASON = "newswire.error.reason"
STAGE = "newswire.error.stage"
ORIGINAL_TOPIC = "__connect.errors.topic"
ORIGINAL_PARTITION = "__connect.errors.partition"
ORIGINAL_OFFSET = "__connect.errors.offset"
ORIGINAL_TIMESTAMP = "newswire.error.original.timestamp"
EXCEPTION_CLASS = "__connect.errors.exception.class.name"
EXCEPTION_MESSAGE = "__connect.errors.exception.message"

_MAX_MESSAGE = 2_000  # a header is metadata; the full payload is the record's value


@dataclass(frozen=True)
class SourcePosition:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int


ERROR_HEADERS = frozenset(
    {
        REASON,
        STAGE,
        ORIGINAL_TOPIC,
        ORIGINAL_PARTITION,
        ORIGINAL_OFFSET,
        ORIGINAL_TIMESTAMP,
        EXCEPTION_CLASS,
        EXCEPTION_MESSAGE,
    }
)
REPLAYED_FROM = "newswire.replayed.from"


def without_error_headers(headers: Headers) -> Headers:
    return [(k, v) for k, v in headers if k not in ERROR_HEADERS]


def dead_letter_headers(
    original: Headers, error: InvalidMessage, stage: str, where: SourcePosition
) -> Headers:
    # A record re-driven from a DLQ may carry old error headers; the new failure replaces them.
    return [
        *without_error_headers(original),
        (REASON, error.reason.encode()),
        (STAGE, stage.encode()),
        (ORIGINAL_TOPIC, where.topic.encode()),
        (ORIGINAL_PARTITION, str(where.partition).encode()),
        (ORIGINAL_OFFSET, str(where.offset).encode()),
        (ORIGINAL_TIMESTAMP, str(where.timestamp_ms).encode()),
        (EXCEPTION_CLASS, type(error).__name__.encode()),
        (EXCEPTION_MESSAGE, error.detail[:_MAX_MESSAGE].encode("utf-8", "replace")),
    ]


def header_map(headers: Headers | None) -> dict[str, str]:
    """Headers as text, for display and tests (the last value wins on repeats)."""
    return {k: v.decode("utf-8", "replace") for k, v in headers or []}
