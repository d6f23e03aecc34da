"""The attempts table as the API holds it: followed like every table, plus a producer to
record test events (``POST /v1/subscriptions/{id}/webhook/test``) and wait for their ack.

The API writes only ``<id>/test`` keys (services/notify/attempts.py), the deliver worker
only ``<id>`` keys, so neither overwrites the other's entries. Two API processes testing
the same subscription within the follow latency (tens of ms) can each miss the other's
test entry; a test event is then missing from the history, nothing else.
"""

import structlog

from services.notify.attempts import (
    Attempt,
    History,
    appended,
    attempts_table,
    encode,
    key_of_tests,
)
from services.runtime.settings import KafkaSettings
from services.runtime.table import WrittenTable

log = structlog.get_logger("newswire.notify")


class AttemptLog(WrittenTable[History]):
    def __init__(self, kafka: KafkaSettings, write_timeout: float = 10.0) -> None:
        super().__init__(attempts_table(), kafka, write_timeout, "attempts")

    async def record_test(self, subscription_id: str, attempt: Attempt) -> None:
        """Appends a test attempt; returns once the broker acknowledged it and the table
        applied it. TimeoutError after ``write_timeout``, KafkaError if refused."""
        key = key_of_tests(subscription_id)
        before: History = self.table.get(key) or ()
        # Not applied locally first: the follower applies it once it is in the topic, so a
        # refused write leaves no trace here either.
        value = encode(appended(before, attempt))
        await self.write_through(key, value)
        log.info("webhook_test_recorded", subscription_id=subscription_id, status=attempt.status)

    async def forget(self, subscription_id: str) -> int:
        """Tombstones a deleted subscription's histories (deliver's and the tests'), so they
        leave every follower now rather than at the topic's retention; returns how many
        keys it removed. A delivery still retrying when the subscription went may write one
        more entry afterwards: that one leaves with retention."""
        removed = 0
        for key in (subscription_id, key_of_tests(subscription_id)):
            if self.table.get(key) is not None:
                await self.write_through(key, None)
                removed += 1
        return removed
