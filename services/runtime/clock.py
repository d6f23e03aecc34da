"""Wall-clock time for state expiry; steps take it as a function so tests can fix it."""

import time


def wall_clock_ms() -> int:
    return int(time.time() * 1000)
