"""The retry policy: which answers are final, backoff with full jitter, Retry-After, budget."""

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from services.notify.retry import RetryPolicy, Verdict, parse_retry_after

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
POLICY = RetryPolicy(
    base_delay_seconds=1.0, max_delay_seconds=60.0, max_attempts=5, max_elapsed_seconds=300.0
)


class TestVerdicts:
    """Only 2xx succeeds; 410 disables; everything else is retried until the budget ends."""

    @pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
    def test_2xx_is_delivered(self, status: int) -> None:
        assert POLICY.decide(status, 1, 0.0, 1.0) == Verdict.delivered

    def test_410_is_gone_even_on_the_last_attempt(self) -> None:
        assert POLICY.decide(410, 1, 0.0, 1.0) == Verdict.gone
        assert POLICY.decide(410, 5, 0.0, 1.0) == Verdict.gone

    @pytest.mark.parametrize(
        "status", [None, 100, 301, 302, 307, 400, 401, 404, 408, 429, 500, 503]
    )
    def test_other_answers_are_retried(self, status: int | None) -> None:
        assert POLICY.decide(status, 1, 0.0, 1.0) == Verdict.retry

    def test_max_attempts_ends_the_budget(self) -> None:
        assert POLICY.decide(500, 4, 10.0, 1.0) == Verdict.retry
        assert POLICY.decide(500, 5, 10.0, 1.0) == Verdict.exhausted

    def test_elapsed_time_ends_the_budget(self) -> None:
        # The next attempt would start after the budget: give up now rather than wait for it.
        assert POLICY.decide(503, 2, 290.0, 5.0) == Verdict.retry
        assert POLICY.decide(503, 2, 290.0, 20.0) == Verdict.exhausted


class TestBackoff:
    """Exponential ceiling capped at max_delay, full jitter below it."""

    def test_ceiling_doubles_then_caps(self) -> None:
        ceilings = [POLICY.backoff(n, 0.999999) for n in range(1, 10)]
        assert [round(c) for c in ceilings] == [1, 2, 4, 8, 16, 32, 60, 60, 60]

    def test_full_jitter_spans_zero_to_ceiling(self) -> None:
        assert POLICY.backoff(4, 0.0) == 0.0
        assert POLICY.backoff(4, 0.5) == pytest.approx(4.0)

    def test_huge_attempt_numbers_do_not_overflow(self) -> None:
        assert POLICY.backoff(10_000, 0.5) == pytest.approx(30.0)

    def test_retry_after_replaces_the_backoff_and_is_capped(self) -> None:
        assert POLICY.next_delay(1, 0.5, 7.0) == 7.0
        assert POLICY.next_delay(1, 0.5, 3600.0) == 60.0
        assert POLICY.next_delay(3, 0.5, None) == pytest.approx(2.0)
        assert POLICY.next_delay(1, 0.5, -5.0) == 0.0


class TestRetryAfter:
    """Retry-After is delta-seconds or an HTTP-date (RFC 9110 10.2.3); junk is ignored."""

    @pytest.mark.parametrize(("value", "seconds"), [("0", 0.0), ("5", 5.0), (" 120 ", 120.0)])
    def test_delta_seconds(self, value: str, seconds: float) -> None:
        assert parse_retry_after(value, NOW) == seconds

    def test_http_date(self) -> None:
        later = format_datetime(NOW + timedelta(seconds=90), usegmt=True)
        assert later.endswith("GMT")
        assert parse_retry_after(later, NOW) == pytest.approx(90.0)

    def test_obsolete_date_forms(self) -> None:
        # RFC 850 and asctime forms are still legal for recipients to accept.
        assert parse_retry_after("Wednesday, 25-Nov-26 09:01:00 GMT", NOW) == pytest.approx(60)
        assert parse_retry_after("Wed Nov 25 09:02:00 2026", NOW) == pytest.approx(120)

    def test_a_date_in_the_past_means_now(self) -> None:
        earlier = format_datetime(NOW - timedelta(hours=1), usegmt=True)
        assert parse_retry_after(earlier, NOW) == 0.0

    @pytest.mark.parametrize("value", [None, "", "soon", "-5", "1.5", "Mon, 99 Foo 2026"])
    def test_unreadable_values_are_ignored(self, value: str | None) -> None:
        assert parse_retry_after(value, NOW) is None

    def test_absurd_delta_is_bounded(self) -> None:
        seconds = parse_retry_after("9" * 40, NOW)
        assert seconds is not None
        assert POLICY.next_delay(1, 0.0, seconds) == 60.0
