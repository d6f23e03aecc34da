"""Webhook attempts as the console's Delivery page shows them. Pure (no clock, no I/O).

Kept in the compacted changelog ``news.alerts.attempts`` (a :class:`ChangelogTable`), one
value per key: the key's last :data:`LIMIT` attempts, newest first, as JSON. Two keys per
subscription, each with one writer, so a read-modify-write never loses another's entry:

- ``<subscription id>``: the deliver worker's attempts. Only the worker that owns the
  subscription's ``news.alerts`` partition (alerts are keyed by subscription id) writes it;
- ``<subscription id>/test``: the API's test events (``/`` is not allowed in an id).

:func:`history` merges the two. The secret and the request body are never stored.
"""

import json
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from schemas.delivery import AttemptVerdict, DeliveryAttempt
from schemas.topics import ALERT_ATTEMPTS
from services.runtime.table import ChangelogTable

LIMIT = 20
RETENTION_SECONDS = 3 * 24 * 3600.0
MAX_ERROR_CHARS = 200
TEST_SUFFIX = "/test"
_VERDICTS: tuple[AttemptVerdict, ...] = ("delivered", "retry", "gone", "exhausted", "test")


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt; times in unix milliseconds (the wire and the table's memory)."""

    at_ms: int
    webhook_id: str
    attempt: int
    status: int | None
    result: str
    error: str | None
    verdict: AttemptVerdict
    next_attempt_ms: int | None = None
    alerts: int = 1
    test: bool = False


History = tuple[Attempt, ...]


def short_error(error: str | None) -> str | None:
    if error is None:
        return None
    return error if len(error) <= MAX_ERROR_CHARS else error[: MAX_ERROR_CHARS - 1] + "…"


def appended(history: History, attempt: Attempt, limit: int = LIMIT) -> History:
    """``attempt`` in front of ``history`` (newest first), the oldest dropped past ``limit``."""
    return (attempt, *history[: max(0, limit - 1)])


def key_of_tests(subscription_id: str) -> str:
    return subscription_id + TEST_SUFFIX


def history(table: Mapping[str, History], subscription_id: str, limit: int = LIMIT) -> History:
    """A subscription's attempts, deliveries and tests merged, newest first."""
    merged = [*table.get(subscription_id, ()), *table.get(key_of_tests(subscription_id), ())]
    merged.sort(key=lambda a: a.at_ms, reverse=True)
    return tuple(merged[:limit])


def _dump(a: Attempt) -> dict[str, Any]:
    return {
        "at_ms": a.at_ms,
        "webhook_id": a.webhook_id,
        "attempt": a.attempt,
        "status": a.status,
        "result": a.result,
        "error": a.error,
        "verdict": a.verdict,
        "next_attempt_ms": a.next_attempt_ms,
        "alerts": a.alerts,
        "test": a.test,
    }


def encode(value: History) -> bytes:
    return json.dumps([_dump(a) for a in value], separators=(",", ":")).encode()


def _int(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{what} is not an integer")
    return value


def _load(item: Any) -> Attempt:
    if not isinstance(item, dict):
        raise ValueError("an attempt is not an object")
    verdict = item.get("verdict")
    if verdict not in _VERDICTS:
        raise ValueError(f"unknown verdict {verdict!r}")
    status, error, nxt = item.get("status"), item.get("error"), item.get("next_attempt_ms")
    webhook_id, result = item.get("webhook_id"), item.get("result")
    if not isinstance(webhook_id, str) or not isinstance(result, str):
        raise ValueError("webhook_id and result are strings")
    if error is not None and not isinstance(error, str):
        raise ValueError("error is a string or null")
    return Attempt(
        at_ms=_int(item.get("at_ms"), "at_ms"),
        webhook_id=webhook_id,
        attempt=_int(item.get("attempt"), "attempt"),
        status=None if status is None else _int(status, "status"),
        # The table holds up to 40 attempts a subscription: share the few repeated strings.
        result=sys.intern(result),
        error=short_error(error),
        verdict=next(v for v in _VERDICTS if v == verdict),
        next_attempt_ms=None if nxt is None else _int(nxt, "next_attempt_ms"),
        alerts=_int(item.get("alerts", 1), "alerts"),
        test=bool(item.get("test", False)),
    )


def decode(value: bytes) -> History:
    """A history from its JSON; ValueError for anything else (the table skips it)."""
    try:
        data = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"not JSON: {exc}") from exc
    if not isinstance(data, list):
        raise ValueError("not a list of attempts")
    return tuple(_load(item) for item in data[:LIMIT])


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def to_contract(a: Attempt) -> DeliveryAttempt:
    return DeliveryAttempt(
        at=_utc(a.at_ms),
        webhook_id=a.webhook_id,
        attempt=a.attempt,
        status=a.status,
        result=a.result,
        error=a.error,
        verdict=a.verdict,
        next_attempt_at=_utc(a.next_attempt_ms) if a.next_attempt_ms is not None else None,
        alerts=a.alerts,
        test=a.test,
    )


def next_retry_ms(value: History) -> int | None:
    """When the next attempt is due: the newest attempt's, if it was a retry."""
    if value and value[0].verdict == "retry" and not value[0].test:
        return value[0].next_attempt_ms
    return None


def attempts_table(
    retention_seconds: float = RETENTION_SECONDS, clock: Callable[[], float] = time.time
) -> ChangelogTable[History]:
    """The attempts as a changelog table; a key whose newest attempt is older than
    ``retention_seconds`` is dropped (restore and prune), as the topic's retention would."""

    def keep(value: History) -> bool:
        return bool(value) and clock() * 1000 - value[0].at_ms < retention_seconds * 1000

    return ChangelogTable(ALERT_ATTEMPTS, encode, decode, keep)
