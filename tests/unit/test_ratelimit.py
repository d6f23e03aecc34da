"""Token bucket and digests: over the rate, alerts fold into one webhook per token; none lost."""

import itertools

import pytest

from services.notify.ratelimit import DigestPlanner, TokenBucket
from services.runtime.commit import OutOfOrderOffsets


class TestTokenBucket:
    """Starts full at ``burst``, refills at ``rate`` per second, never above ``burst``."""

    def test_burst_then_refill(self) -> None:
        bucket = TokenBucket(rate_per_second=2.0, burst=3)
        assert [bucket.try_take(0.0) for _ in range(4)] == [True, True, True, False]
        assert bucket.seconds_until_token(0.0) == pytest.approx(0.5)
        assert bucket.try_take(0.5)
        assert not bucket.try_take(0.5)

    def test_refill_is_capped(self) -> None:
        bucket = TokenBucket(rate_per_second=1.0, burst=2)
        assert bucket.try_take(0.0)
        assert bucket.try_take(0.0)
        # An hour idle refills to burst, not to 3,600.
        assert [bucket.try_take(3600.0) for _ in range(3)] == [True, True, False]

    def test_is_full_after_refill(self) -> None:
        bucket = TokenBucket(rate_per_second=1.0, burst=2)
        assert bucket.is_full(0.0)
        assert bucket.try_take(0.0)
        assert not bucket.is_full(0.5)
        assert bucket.is_full(1.0)

    def test_clock_going_backwards_does_not_mint_tokens(self) -> None:
        bucket = TokenBucket(rate_per_second=1.0, burst=1)
        assert bucket.try_take(10.0)
        assert not bucket.try_take(5.0)
        assert not bucket.try_take(10.0)


def simulate(
    arrivals: list[float], rate: float, burst: int, max_alerts: int
) -> list[tuple[float, list[int]]]:
    """Runs a planner over alerts arriving at ``arrivals`` (seconds); returns each webhook as
    (send time, alert indexes), sending instantly (a lane with a perfect receiver)."""
    planner = DigestPlanner(TokenBucket(rate, burst), max_alerts)
    sent: list[tuple[float, list[int]]] = []
    queue: list[int] = []
    now = 0.0
    nxt = 0
    while nxt < len(arrivals) or queue:
        while nxt < len(arrivals) and arrivals[nxt] <= now:
            queue.append(nxt)
            nxt += 1
        if not queue:
            now = arrivals[nxt]
            continue
        count, wait = planner.next_send(now, len(queue))
        if count:
            sent.append((now, queue[:count]))
            del queue[:count]
        else:
            now = min(now + wait, arrivals[nxt]) if nxt < len(arrivals) else now + wait
    return sent


class TestDigests:
    """Within the rate each alert goes alone; above it, one token carries what queued up."""

    def test_within_the_rate_every_alert_goes_alone(self) -> None:
        sent = simulate([0.0, 1.0, 2.0, 3.0], rate=1.0, burst=1, max_alerts=10)
        assert [ids for _, ids in sent] == [[0], [1], [2], [3]]

    def test_a_flood_becomes_burst_singles_then_digests(self) -> None:
        # 30 alerts in 3 s for a subscription allowed 2 at once and 1 per 2 s.
        arrivals = [i * 0.1 for i in range(30)]
        sent = simulate(arrivals, rate=0.5, burst=2, max_alerts=100)
        delivered = [i for _, ids in sent for i in ids]
        assert delivered == list(range(30))  # nothing lost, nothing doubled, in order
        assert [ids for _, ids in sent[:2]] == [[0], [1]]
        assert all(len(ids) > 1 for _, ids in sent[2:])
        assert len(sent) <= 2 + 3 / 2 + 2  # one webhook per token
        # Once the burst is spent, one webhook per refill interval (1 / rate = 2 s).
        times = [t for t, _ in sent[2:]]
        assert all(b - a == pytest.approx(2.0) for a, b in itertools.pairwise(times))

    def test_digest_size_is_capped(self) -> None:
        arrivals = [0.0] * 25
        sent = simulate(arrivals, rate=1.0, burst=1, max_alerts=10)
        assert [len(ids) for _, ids in sent] == [1, 10, 10, 4]
        assert [i for _, ids in sent for i in ids] == list(range(25))

    def test_after_a_quiet_period_alerts_go_alone_again(self) -> None:
        sent = simulate([0.0, 0.0, 0.0, 100.0], rate=1.0, burst=1, max_alerts=10)
        assert [ids for _, ids in sent] == [[0], [1, 2], [3]]

    def test_nothing_queued_means_nothing_to_send(self) -> None:
        planner = DigestPlanner(TokenBucket(1.0, 1), 10)
        assert planner.next_send(0.0, 0) == (0, 0.0)


class TestOutOfOrderOffsets:
    """The committable offset is the first unfinished record: finishing out of order never
    commits past an unfinished one."""

    def test_commit_stops_at_the_first_unfinished(self) -> None:
        offsets = OutOfOrderOffsets()
        for o in range(10, 15):
            offsets.add(o)
        offsets.finish(11)
        offsets.finish(12)
        assert offsets.advance() is None
        assert offsets.pending() == 3
        offsets.finish(10)
        assert offsets.advance() == (13, 3)
        offsets.finish(14)
        assert offsets.advance() is None
        offsets.finish(13)
        assert offsets.advance() == (15, 2)
        assert offsets.pending() == 0

    def test_finishing_twice_or_unknown_offsets_is_harmless(self) -> None:
        offsets = OutOfOrderOffsets()
        offsets.add(0)
        offsets.finish(0)
        offsets.finish(0)
        offsets.finish(99)
        assert offsets.advance() == (1, 1)
        assert offsets.advance() is None
