"""Subscriptions kept in the compacted topic ``news.subscriptions``, the only store.

A :class:`SubscriptionStore` materialises the whole topic (a :class:`ChangelogTable`):
restored before the worker starts, then followed, so a write made through any notify
process reaches every other within the follow latency. A write is produced, acknowledged
by the broker (``acks=all``) and then read back by this store's own follower before
:meth:`put` or :meth:`delete` returns: the local copy always applies records in the
topic's order, so every process converges on the same state, and the API answers only
with what is durable and visible.

What is not guarded: two processes updating the same subscription at the same moment both
pass their version check (``If-Match``) against their own copy; the later record in the
topic wins everywhere.
"""

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import structlog
from aiokafka import AIOKafkaProducer

from schemas import topics
from schemas.subscription import Status, Subscription
from services.runtime.kafka import producer_config
from services.runtime.settings import KafkaSettings
from services.runtime.table import ChangelogTable

log = structlog.get_logger("newswire.notify")

Listener = Callable[[str, Subscription | None, Subscription | None], None]


def _encode(sub: Subscription) -> bytes:
    return sub.model_dump_json().encode()


def _decode(value: bytes) -> Subscription:
    return Subscription.model_validate_json(value)


class SubscriptionStore:
    """Read the local copy; write through the topic."""

    def __init__(self, kafka: KafkaSettings, write_timeout: float = 10.0) -> None:
        self.topic = topics.SUBSCRIPTIONS.name
        self._kafka = kafka
        self._write_timeout = write_timeout
        self.table: ChangelogTable[Subscription] = ChangelogTable(self.topic, _encode, _decode)
        self.table.on_change = self._changed
        self._listeners: list[Listener] = []
        self._by_owner: dict[str, set[str]] = {}
        self._producer: AIOKafkaProducer | None = None
        self._prefixed = self.topic

    @property
    def restored(self) -> bool:
        return self.table.restored

    def listen(self, listener: Listener) -> None:
        """Calls ``listener(id, old, new)`` on every change, restore included (``new`` None:
        deleted). Register before :meth:`start` to see the restored subscriptions."""
        self._listeners.append(listener)

    def _changed(self, key: str, old: Subscription | None, new: Subscription | None) -> None:
        if old is not None and (new is None or new.owner != old.owner):
            owned = self._by_owner.get(old.owner)
            if owned is not None:
                owned.discard(key)
                if not owned:
                    del self._by_owner[old.owner]
        if new is not None:
            self._by_owner.setdefault(new.owner, set()).add(key)
        for listener in self._listeners:
            listener(key, old, new)

    async def start(self, bootstrap: str, topic: str, client_id: str) -> None:
        """The same signature as a table's, so the runtime restores it before the loop starts."""
        self._prefixed = topic
        producer = AIOKafkaProducer(**producer_config(self._kafka, f"{client_id}-subscriptions"))
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

    def get(self, subscription_id: str) -> Subscription | None:
        return self.table.get(subscription_id)

    def owned_by(self, owner: str) -> list[str]:
        """The owner's subscription ids, sorted (the list order of the API)."""
        return sorted(self._by_owner.get(owner, ()))

    def __len__(self) -> int:
        return len(self.table)

    async def put(self, sub: Subscription) -> None:
        """Returns once the broker acknowledged the record and this store applied it;
        TimeoutError after ``write_timeout`` seconds, KafkaError if the broker refused it."""
        await self._write(sub.id, _encode(sub))

    async def set_status(
        self, subscription_id: str, status: Status, reason: str | None
    ) -> Subscription | None:
        """Disables (or re-activates) a subscription, e.g. after its webhook answered 410;
        returns the new record, or None if there is no such subscription. No write when it
        is already in that state."""
        current = self.get(subscription_id)
        if current is None:
            return None
        if current.status == status and current.status_reason == reason:
            return current
        updated = current.model_copy(
            update={
                "status": status,
                "status_reason": reason,
                "updated_at": datetime.now(UTC),
                "version": current.version + 1,
            }
        )
        await self.put(updated)
        return updated

    async def delete(self, subscription_id: str) -> None:
        await self._write(subscription_id, None)

    async def _write(self, key: str, value: bytes | None) -> None:
        if self._producer is None:
            raise RuntimeError("SubscriptionStore.start() was not called")
        async with asyncio.timeout(self._write_timeout):
            sent = await self._producer.send_and_wait(self._prefixed, value, key=key.encode())
            await self.table.wait_applied(sent.partition, sent.offset, self._write_timeout)
        log.info(
            "subscription_written",
            subscription_id=key,
            deleted=value is None,
            partition=sent.partition,
            offset=sent.offset,
        )
