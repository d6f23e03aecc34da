"""The attempts table as the API holds it: followed like every table, plus a producer to
record test events (``POST /v1/subscriptions/{id}/webhook/test``) and wait for their ack.

The API writes only ``<id>/test`` keys (services/notify/attempts.py), the deliver worker
only ``<id>`` keys, so neither overwrites the other's entries. Two API processes testing
the same subscription within the follow latency (tens of ms) can each miss the other's
test entry; a test event is then missing from the history, nothing else.
"""

import asyncio

import structlog
from aiokafka import AIOKafkaProducer

from services.notify.attempts import (
    Attempt,
    History,
    appended,
    attempts_table,
    encode,
    key_of_tests,
)
from services.runtime.kafka import producer_config
from services.runtime.settings import KafkaSettings

log = structlog.get_logger("newswire.notify")


class AttemptLog:
    def __init__(self, kafka: KafkaSettings, write_timeout: float = 10.0) -> None:
        self.table = attempts_table()
        self.topic = self.table.topic
        self._kafka = kafka
        self._write_timeout = write_timeout
        self._producer: AIOKafkaProducer | None = None
        self._prefixed = self.topic

    @property
    def restored(self) -> bool:
        return self.table.restored

    async def start(self, bootstrap: str, topic: str, client_id: str) -> None:
        """A table's signature, so the runtime restores it before the loop starts."""
        self._prefixed = topic
        producer = AIOKafkaProducer(**producer_config(self._kafka, f"{client_id}-attempts"))
        await producer.start()
        self._producer = producer
        try:
            await self.table.start(bootstrap, topic, client_id)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        await self.table.stop()
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def record_test(self, subscription_id: str, attempt: Attempt) -> None:
        """Appends a test attempt; returns once the broker acknowledged it and the table
        applied it. TimeoutError after ``write_timeout``, KafkaError if refused."""
        if self._producer is None:
            raise RuntimeError("AttemptLog.start() was not called")
        key = key_of_tests(subscription_id)
        before: History = self.table.get(key) or ()
        # Not applied locally first: the follower applies it once it is in the topic, so a
        # refused write leaves no trace here either.
        value = encode(appended(before, attempt))
        async with asyncio.timeout(self._write_timeout):
            sent = await self._producer.send_and_wait(self._prefixed, value, key=key.encode())
            await self.table.wait_applied(sent.partition, sent.offset, self._write_timeout)
        log.info("webhook_test_recorded", subscription_id=subscription_id, status=attempt.status)
