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

from collections.abc import Callable
from datetime import UTC, datetime

import structlog

from schemas import topics
from schemas.subscription import Status, Subscription
from services.runtime.settings import KafkaSettings
from services.runtime.table import ChangelogTable, WrittenTable

log = structlog.get_logger("newswire.notify")

Listener = Callable[[str, Subscription | None, Subscription | None], None]


def _encode(sub: Subscription) -> bytes:
    return sub.model_dump_json().encode()


def _decode(value: bytes) -> Subscription:
    return Subscription.model_validate_json(value)


class SubscriptionStore(WrittenTable[Subscription]):
    """Read the local copy; write through the topic."""

    def __init__(self, kafka: KafkaSettings, write_timeout: float = 10.0) -> None:
        table = ChangelogTable(topics.SUBSCRIPTIONS.name, _encode, _decode)
        super().__init__(table, kafka, write_timeout, "subscriptions")
        self.table.on_change = self._changed
        self._listeners: list[Listener] = []
        self._by_owner: dict[str, set[str]] = {}

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
        partition, offset = await self.write_through(key, value)
        log.info(
            "subscription_written",
            subscription_id=key,
            deleted=value is None,
            partition=partition,
            offset=offset,
        )
