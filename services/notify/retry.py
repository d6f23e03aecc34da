"""What to do after a webhook attempt: done, try again later, or give up. Pure (no clock, no I/O).

Status handling follows the Standard Webhooks spec ("Delivery success and failure") and
Svix, which sends most Standard Webhooks traffic:

- only 2xx is success; a 3xx is a failure (redirects are not followed: the subscriber should
  update the URL, and following one would bypass the SSRF guard);
- 410 Gone: the receiver wants no more webhooks; the endpoint is disabled, no retry;
- every other status, 4xx included, and every transport error (refused, reset, timeout) is
  retried. The spec says "the rest of the status codes should be treated as a failure" and
  Svix retries them on its schedule: a 401/404 is usually a receiver mid-deploy or mid-secret
  rotation, which fixes itself; the budget bounds what a permanently broken one costs;
- ``Retry-After`` (delta-seconds or HTTP-date, RFC 9110 §10.2.3; sent with 429 and 503) sets
  the next delay, bounded by the cap so a receiver cannot park an alert for days.

Backoff is exponential with full jitter (AWS Architecture Blog, "Exponential Backoff And
Jitter"): delay = uniform(0, min(cap, base · 2^(attempt-1))). Full jitter spreads the retries
of many alerts that failed together (an outage) instead of sending them in waves.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum


class Verdict(StrEnum):
    delivered = "delivered"
    retry = "retry"
    gone = "gone"  # 410: disable the endpoint
    exhausted = "exhausted"  # the retry budget is spent: dead-letter


@dataclass(frozen=True)
class RetryPolicy:
    """The retry budget: ``max_attempts`` attempts and ``max_elapsed_seconds`` since the
    first, whichever ends first; delays from ``base_delay_seconds`` doubling up to
    ``max_delay_seconds``."""

    base_delay_seconds: float = 5.0
    max_delay_seconds: float = 3600.0
    max_attempts: int = 30
    max_elapsed_seconds: float = 24 * 3600.0

    def backoff(self, attempt: int, unit: float) -> float:
        """The full-jitter delay after failed attempt number ``attempt`` (1-based);
        ``unit`` is a uniform random number in [0, 1)."""
        ceiling = min(self.max_delay_seconds, self.base_delay_seconds * 2.0 ** min(attempt - 1, 62))
        return ceiling * unit

    def next_delay(self, attempt: int, unit: float, retry_after: float | None) -> float:
        """Delay before the next attempt: the receiver's ``Retry-After`` if it sent one
        (bounded by the cap), else the jittered backoff."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay_seconds)
        return self.backoff(attempt, unit)

    def decide(
        self, status: int | None, attempt: int, elapsed: float, next_delay: float
    ) -> Verdict:
        """After attempt ``attempt`` (1-based) answered ``status`` (None: no HTTP answer),
        ``elapsed`` seconds after the first attempt started, with ``next_delay`` to wait."""
        if status is not None and 200 <= status <= 299:
            return Verdict.delivered
        if status == 410:
            return Verdict.gone
        if attempt >= self.max_attempts or elapsed + next_delay > self.max_elapsed_seconds:
            return Verdict.exhausted
        return Verdict.retry


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), or None
    when absent or unreadable (then the backoff decides)."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        return float(int(text[:12]))  # 12 digits: already ~30,000 years, beyond any cap
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; "-0000" parses naive
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
