"""The webhook attempts history (services/notify/attempts.py): append, limit, order,
round trip, refused values, expiry, and the contract model."""

import tracemalloc
from datetime import UTC, datetime

import pytest

from schemas.delivery import DeliveryAttempt
from services.notify.attempts import (
    LIMIT,
    Attempt,
    History,
    appended,
    attempts_table,
    decode,
    encode,
    history,
    key_of_tests,
    next_retry_ms,
    short_error,
    to_contract,
)

T0 = 1_800_000_000_000


def attempt(n: int, **fields: object) -> Attempt:
    values: dict[str, object] = {
        "at_ms": T0 + n,
        "webhook_id": f"{n:032x}",
        "attempt": 1,
        "status": 200,
        "result": "2xx",
        "error": None,
        "verdict": "delivered",
        **fields,
    }
    return Attempt(**values)  # type: ignore[arg-type]


def test_appended_is_newest_first_and_keeps_the_last_20() -> None:
    h: History = ()
    for n in range(25):
        h = appended(h, attempt(n))
    assert len(h) == LIMIT == 20
    assert [a.at_ms - T0 for a in h] == list(range(24, 4, -1))


def test_appended_with_a_smaller_limit() -> None:
    h = appended(appended(appended((), attempt(1), 2), attempt(2), 2), attempt(3), 2)
    assert [a.at_ms - T0 for a in h] == [3, 2]


def test_round_trip() -> None:
    h = (
        attempt(3, status=None, result="error", error="connect: refused", verdict="retry",
                attempt=2, next_attempt_ms=T0 + 5000, alerts=4),
        attempt(2, status=500, result="5xx", verdict="retry", next_attempt_ms=T0 + 900),
        attempt(1, verdict="test", test=True, alerts=0, webhook_id="test_" + "a" * 32),
    )  # fmt: skip
    assert decode(encode(h)) == h
    assert decode(encode(())) == ()


@pytest.mark.parametrize(
    "value",
    [
        b"not json",
        b"\xff\xfe",
        b"{}",
        b'"x"',
        b"[1]",
        b'[{"at_ms": 1}]',
        b'[{"at_ms":1,"webhook_id":"w","attempt":1,"status":200,"result":"2xx",'
        b'"error":null,"verdict":"lost"}]',
        b'[{"at_ms":"1","webhook_id":"w","attempt":1,"status":200,"result":"2xx",'
        b'"error":null,"verdict":"delivered"}]',
        b'[{"at_ms":1,"webhook_id":"w","attempt":true,"status":200,"result":"2xx",'
        b'"error":null,"verdict":"delivered"}]',
        b"[" * 100_000,
    ],
)
def test_garbage_is_refused(value: bytes) -> None:
    with pytest.raises(ValueError, match=r"not JSON|not a list|not an object|verdict|integer"):
        decode(value)


def test_the_table_skips_garbage_and_expired_histories() -> None:
    now = T0 / 1000 + 3 * 24 * 3600.0
    table = attempts_table(clock=lambda: now)
    table.apply(b"fresh", encode((attempt(3 * 24 * 3600 * 1000 - 1000),)))  # a second old
    table.apply(b"stale", encode((attempt(0),)))  # 3 days old: dropped
    table.apply(b"empty", encode(()))
    table.apply(b"junk", b"{")
    assert set(table.data) == {"fresh"}


def test_prune_drops_histories_that_aged_out() -> None:
    now = [T0 / 1000]
    table = attempts_table(retention_seconds=60, clock=lambda: now[0])
    table.put("sub", (attempt(0),))
    assert table.prune() == 0
    now[0] += 61
    assert table.prune() == 1
    assert table.get("sub") is None


def test_history_merges_deliveries_and_tests_newest_first() -> None:
    deliveries = tuple(attempt(n) for n in (30, 20, 10))
    tests = tuple(attempt(n, verdict="test", test=True) for n in (25, 5))
    merged = history({"s": deliveries, key_of_tests("s"): tests, "other": (attempt(99),)}, "s")
    assert [a.at_ms - T0 for a in merged] == [30, 25, 20, 10, 5]
    many = tuple(attempt(n) for n in range(40, 20, -1))
    assert len(history({"s": many, key_of_tests("s"): tests}, "s")) == LIMIT
    assert history({}, "s") == ()


def test_next_retry_is_the_newest_delivery_attempts() -> None:
    retry = attempt(2, status=500, result="5xx", verdict="retry", next_attempt_ms=T0 + 777)
    assert next_retry_ms((retry, attempt(1))) == T0 + 777
    assert next_retry_ms((attempt(3), retry)) is None
    assert next_retry_ms(()) is None


def test_contract_model() -> None:
    a = attempt(1, status=500, result="5xx", verdict="retry", next_attempt_ms=T0 + 1500)
    c = to_contract(a)
    assert c.at == datetime.fromtimestamp((T0 + 1) / 1000, UTC)
    assert c.next_attempt_at == datetime.fromtimestamp((T0 + 1500) / 1000, UTC)
    assert (c.status, c.result, c.verdict, c.attempt, c.alerts, c.test) == (
        500, "5xx", "retry", 1, 1, False,
    )  # fmt: skip
    assert DeliveryAttempt.model_validate_json(c.model_dump_json()) == c
    assert set(c.model_dump()) == {
        "at", "webhook_id", "attempt", "status", "result", "error", "verdict",
        "next_attempt_at", "alerts", "test",
    }  # fmt: skip


def test_errors_are_kept_short() -> None:
    assert short_error(None) is None
    assert short_error("x" * 10) == "x" * 10
    long = short_error("y" * 5000)
    assert long is not None
    assert len(long) == 200


def test_memory_of_a_full_history() -> None:
    """What one subscription with a full history costs in every deliver and notify worker
    (measured, reported in docs/work-notes/attempts.md)."""
    full = tuple(
        attempt(n, status=503, result="5xx", verdict="retry", next_attempt_ms=T0 + n + 10**6)
        for n in range(LIMIT)
    )
    raw = encode(full)
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    kept = [decode(raw) for _ in range(100)]
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    per_history = sum(s.size_diff for s in after.compare_to(before, "filename")) / len(kept)
    print(f"\nencoded {len(raw)} bytes; in memory {per_history:.0f} bytes per full history")
    assert per_history < 12_000
