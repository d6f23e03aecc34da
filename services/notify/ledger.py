"""The delivery ledger: what became of an alert, kept in a compacted topic (a changelog table).

Offsets on ``news.alerts`` are committed only up to the first alert not yet delivered, so
alerts finished after it are read again after a restart or a rebalance. The ledger makes
those repeats harmless and keeps digests stable:

- ``planned``: written (and acknowledged) for every alert of a digest *before* the digest's
  first attempt, naming its id; the digest's own entry (keyed by its id) keeps its members
  and exact body. An alert read again that has a plan is re-sent in exactly that digest
  (same members, same bytes, same ``webhook-id``), never alone and never in another digest,
  so a receiver deduplicating by ``webhook-id`` sees it once. The body is in the ledger so
  the first member read again can re-send it without waiting for the others.
- ``done``: written after a terminal outcome (delivered, dead-lettered, endpoint gone) and
  acknowledged before the offset is committable. An alert read again that is done is skipped.

A crash between a 2xx and the ``done`` write re-sends the same webhook (same ``webhook-id``):
at-least-once, with the id as the receiver's idempotency key.
"""

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from schemas.topics import ALERT_DELIVERIES
from services.runtime.table import ChangelogTable

State = Literal["planned", "done"]


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    state: State
    webhook_id: str
    members: tuple[str, ...] = ()
    outcome: str = ""
    at_ms: int = 0
    body: str = ""  # a digest's own entry keeps the exact body, to re-send it identically


def encode(entry: LedgerEntry) -> bytes:
    return json.dumps(
        {
            "state": entry.state,
            "webhook_id": entry.webhook_id,
            "members": list(entry.members),
            "outcome": entry.outcome,
            "at_ms": entry.at_ms,
            "body": entry.body,
        },
        separators=(",", ":"),
    ).encode()


def decode(value: bytes) -> LedgerEntry:
    data = json.loads(value)
    if not isinstance(data, dict) or data.get("state") not in ("planned", "done"):
        raise ValueError("not a ledger entry")
    # Every worker holds the whole ledger in memory (~310 bytes an entry): slots, and
    # shared strings for the few repeated values.
    return LedgerEntry(
        state="planned" if data["state"] == "planned" else "done",
        webhook_id=str(data["webhook_id"]),
        members=tuple(str(m) for m in data.get("members", [])),
        outcome=sys.intern(str(data.get("outcome", ""))),
        at_ms=int(data.get("at_ms", 0)),
        body=str(data.get("body", "")),
    )


def ledger_table(
    retention_seconds: float, clock: Callable[[], float] = time.time
) -> ChangelogTable[LedgerEntry]:
    """The ledger as a changelog table; entries older than ``retention_seconds`` are pruned."""

    def keep(entry: LedgerEntry) -> bool:
        return clock() * 1000 - entry.at_ms < retention_seconds * 1000

    return ChangelogTable(ALERT_DELIVERIES, encode, decode, keep)
