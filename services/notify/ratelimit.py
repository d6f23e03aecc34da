"""Per-subscription rate limit with digests. Pure: the caller passes the clock.

Each subscription has a token bucket (``rate_per_minute`` refill, ``burst`` capacity). An
alert that finds a token goes out alone. One that finds none waits; alerts arriving for the
same subscription meanwhile queue behind it; when a token returns, everything queued (up to
``digest_max_alerts``) goes out as one digest webhook for that one token. Nothing is dropped:
a busy story costs the subscriber one webhook per token, however many alerts it makes.
"""

from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    rate_per_second: float
    burst: int
    tokens: float = field(init=False)
    updated_at: float | None = None

    def __post_init__(self) -> None:
        self.tokens = float(self.burst)

    def _refill(self, now: float) -> None:
        if self.updated_at is not None and now > self.updated_at:
            self.tokens = min(
                float(self.burst), self.tokens + (now - self.updated_at) * self.rate_per_second
            )
        if self.updated_at is None or now > self.updated_at:
            self.updated_at = now

    def try_take(self, now: float) -> bool:
        self._refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def is_full(self, now: float) -> bool:
        self._refill(now)
        return self.tokens >= self.burst

    def seconds_until_token(self, now: float) -> float:
        self._refill(now)
        return max(0.0, (1.0 - self.tokens) / self.rate_per_second)


@dataclass
class DigestPlanner:
    """Decides, for one subscription's queue, how many queued alerts the next webhook carries.

    :meth:`next_send` returns ``(count, 0.0)``: send the first ``count`` queued alerts now (a
    digest when ``count > 1``), or ``(0, seconds)``: wait that long and ask again.
    """

    bucket: TokenBucket
    max_alerts: int
    _short: bool = False

    def next_send(self, now: float, queued: int) -> tuple[int, float]:
        if queued <= 0:
            return 0, 0.0
        if self.bucket.try_take(now):
            # After a wait, the one token carries everything that queued up behind it.
            count = min(queued, self.max_alerts) if self._short else 1
            self._short = False
            return count, 0.0
        self._short = True
        return 0, self.bucket.seconds_until_token(now)
