"""The delivery ledger's records: round trip, unreadable values, expiry."""

import pytest

from services.notify.ledger import LedgerEntry, decode, encode, ledger_table


def test_round_trip() -> None:
    plan = LedgerEntry("planned", "dg_" + "0" * 32, ("a" * 32, "b" * 32), "", 5, '{"x":1}')
    done = LedgerEntry("done", "a" * 32, (), "delivered", 7)
    assert decode(encode(plan)) == plan
    assert decode(encode(done)) == done


@pytest.mark.parametrize("value", [b"[]", b'{"state":"lost","webhook_id":"x"}', b"{}"])
def test_foreign_values_are_refused(value: bytes) -> None:
    with pytest.raises(ValueError, match="not a ledger entry"):
        decode(value)


def test_expired_entries_are_not_restored() -> None:
    now = 1_000_000.0
    table = ledger_table(retention_seconds=60, clock=lambda: now)
    fresh = LedgerEntry("done", "a", at_ms=int((now - 30) * 1000))
    stale = LedgerEntry("done", "b", at_ms=int((now - 90) * 1000))
    table.apply(b"a", encode(fresh))
    table.apply(b"b", encode(stale))
    table.apply(b"c", b"not json")
    assert table.get("a") == fresh
    assert table.get("b") is None
    assert table.get("c") is None
