"""A key → value table kept in a compacted Kafka topic (a changelog), as Kafka Streams keeps
state: no database, and it survives restarts.

Every worker materialises the whole table (all partitions): it restores it from the beginning
of the changelog before its loop starts, then follows the topic so writes by other workers
arrive within milliseconds. A write is returned as an :class:`OutRecord` for the stage loop to
produce with the batch, so it is acknowledged before the input offset behind it is committed.

Two workers that see the same new key at the same moment can both miss each other's write;
that window is the follow latency (tens of ms here). Keys co-partitioned with the input (the
same key always on the same input partition, hence the same worker) never race.
"""

import asyncio
import contextlib
import heapq
import time
import uuid
from collections.abc import Callable
from typing import Generic, TypeVar

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from services.runtime.errors import BrokerCallTimeout
from services.runtime.kafka import assign_all, bounded, producer_config, stop_quietly
from services.runtime.settings import KafkaSettings
from services.runtime.worker import OutRecord

V = TypeVar("V")
WRITER = "newswire.table.writer"
PRUNE_EVERY = 10_000
# A restore that reads nothing for this long has lost its broker.
RESTORE_STALL_SECONDS = 30.0
log = structlog.get_logger("newswire.runtime")


class ChangelogTable(Generic[V]):
    def __init__(
        self,
        topic: str,
        encode: Callable[[V], bytes],
        decode: Callable[[bytes], V],
        keep: Callable[[V], bool] | None = None,
        max_rows: int | None = None,
        age: Callable[[V], int] | None = None,
    ) -> None:
        """``topic`` is the unprefixed changelog name; ``keep`` drops expired values on restore
        (and from the local copy every PRUNE_EVERY changes).

        ``max_rows`` caps the local copy: beyond it, the rows with the smallest ``age`` (a
        timestamp; insertion order without one) leave it, down to 90 % of the cap, so that
        a burst cannot grow a worker's memory without bound inside the ``keep`` window. They
        stay in the changelog (a restart restores them, then drops them again)."""
        if max_rows is not None and max_rows < 1:
            raise ValueError("max_rows must be at least 1")
        self.topic = topic
        self._encode = encode
        self._decode = decode
        self._keep = keep
        self._max_rows = max_rows
        self._age = age
        # Rows dropped from the local copy since start, by reason: expired | over_cap.
        self.dropped = {"expired": 0, "over_cap": 0}
        self.data: dict[str, V] = {}
        # Called as (key, old value, new value) on every change, local or followed, so derived
        # indexes (an LSH index over the values, say) stay in step.
        self.on_change: Callable[[str, V | None, V | None], None] | None = None
        # Tags this process's writes so following the topic skips them (already applied).
        self._writer = uuid.uuid4().hex.encode()
        self.restored = False
        self._changes_since_prune = 0
        self._follow: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer | None = None
        # Highest offset applied per partition, so a writer that produced a record itself
        # can wait until the table shows it (read-your-writes in changelog order).
        self._applied: dict[int, int] = {}
        self._progress = asyncio.Event()

    def get(self, key: str) -> V | None:
        return self.data.get(key)

    def put(self, key: str, value: V) -> OutRecord:
        """Updates the local copy now; the returned record must be produced to persist it."""
        old = self.data.get(key)
        self.data[key] = value
        if self.on_change is not None:
            self.on_change(key, old, value)
        self._changed()
        return OutRecord(self.topic, key.encode(), self._encode(value), [(WRITER, self._writer)])

    def _changed(self) -> None:
        # Expired values would otherwise leave the local copy only at the next restore, and a
        # long-running worker's memory would grow without bound. One O(n) scan per
        # PRUNE_EVERY changes keeps the cost per change constant.
        self._changes_since_prune += 1
        if self._changes_since_prune >= PRUNE_EVERY:
            self.prune()
        if self._max_rows is not None and len(self.data) > self._max_rows:
            self._shrink(self._max_rows)

    def _shrink(self, cap: int) -> None:
        """Drops the oldest rows down to 90 % of ``cap``: one O(n log k) pass per
        ~cap / 10 changes, not one per change."""
        excess = len(self.data) - cap * 9 // 10
        if self._age is None:
            oldest = list(self.data)[:excess]
        else:
            age = self._age
            oldest = [
                k for k, _ in heapq.nsmallest(excess, self.data.items(), key=lambda kv: age(kv[1]))
            ]
        self._drop(oldest, "over_cap")
        log.warning("table_over_cap", table=self.topic, cap=cap, dropped=len(oldest))

    def _drop(self, keys: list[str], reason: str) -> None:
        for k in keys:
            old = self.data.pop(k)
            if self.on_change is not None:
                self.on_change(k, old, None)
        self.dropped[reason] += len(keys)

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        """Applies one changelog record (a tombstone deletes)."""
        if key is None:
            return
        name = key.decode("utf-8", "replace")
        old = self.data.get(name)
        if value is None:
            self.data.pop(name, None)
            if self.on_change is not None and old is not None:
                self.on_change(name, old, None)
            return
        try:
            decoded = self._decode(value)
        except ValueError:
            log.warning("changelog_record_unreadable", table=self.topic, key=name)
            return
        if self._keep is None or self._keep(decoded):
            self.data[name] = decoded
            if self.on_change is not None:
                self.on_change(name, old, decoded)
            self._changed()

    def prune(self) -> int:
        """Drops values ``keep`` rejects (expired) from the local copy; returns how many."""
        self._changes_since_prune = 0
        if self._keep is None:
            return 0
        expired = [k for k, v in self.data.items() if not self._keep(v)]
        self._drop(expired, "expired")
        return len(expired)

    async def start(self, bootstrap: str, topic: str, client_id: str) -> None:
        """Restores from the beginning of ``topic`` (the prefixed name) to its end offsets, then
        follows it in the background."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            client_id=f"{client_id}-table",
            enable_auto_commit=False,
            isolation_level="read_committed",
        )
        try:
            await bounded(consumer.start(), RESTORE_STALL_SECONDS, f"table consumer start {topic}")
        except BaseException:
            await stop_quietly(consumer, RESTORE_STALL_SECONDS)
            raise
        self._consumer = consumer
        tps = await assign_all(consumer, topic)
        await consumer.seek_to_beginning(*tps)
        ends: dict[TopicPartition, int] = await consumer.end_offsets(tps)
        restored = 0
        last_progress = time.monotonic()
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            if batch:
                last_progress = time.monotonic()
            elif time.monotonic() - last_progress > RESTORE_STALL_SECONDS:
                # The broker went away mid-restore: fail (the worker rebuilds or exits)
                # rather than wait for it with the loop not yet running.
                raise BrokerCallTimeout(
                    f"restore of {topic}: nothing read for {RESTORE_STALL_SECONDS:g} s"
                )
            for tp, records in batch.items():
                for r in records:
                    self.apply(r.key, r.value)
                    restored += 1
                self._applied[tp.partition] = records[-1].offset
        self.restored = True
        log.info("table_restored", table=topic, records=restored, keys=len(self.data))
        self._follow = asyncio.create_task(self._follow_loop(consumer), name=f"follow-{topic}")
        self._follow.add_done_callback(self._followed)

    def _followed(self, task: "asyncio.Task[None]") -> None:
        # A follow loop that dies leaves the table stale: say so loudly, not never.
        if not task.cancelled() and task.exception() is not None:
            log.error("table_follow_failed", table=self.topic, error=repr(task.exception()))

    async def _follow_loop(self, consumer: AIOKafkaConsumer) -> None:
        mine = (WRITER, self._writer)
        while True:
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            for tp, records in batch.items():
                for r in records:
                    if mine not in r.headers:
                        self.apply(r.key, r.value)
                self._applied[tp.partition] = records[-1].offset
            if batch:
                self._progress.set()
                self._progress = asyncio.Event()

    async def wait_applied(self, partition: int, offset: int, timeout: float) -> None:
        """Returns once the record at ``offset`` of ``partition`` has been applied (read back
        from the changelog); TimeoutError after ``timeout`` seconds."""
        async with asyncio.timeout(timeout):
            while self._applied.get(partition, -1) < offset:
                if self._follow is None or self._follow.done():
                    raise RuntimeError(f"table {self.topic} is not following its changelog")
                await self._progress.wait()

    async def stop(self) -> None:
        if self._follow is not None:
            self._follow.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follow
        if self._consumer is not None:
            await stop_quietly(self._consumer, RESTORE_STALL_SECONDS)

    def reset(self) -> None:
        """Forgets the local copy (after :meth:`stop`), telling ``on_change`` of every key;
        :meth:`start` then restores it afresh from the changelog."""
        old = self.data
        self.data = {}
        if self.on_change is not None:
            for key, value in old.items():
                self.on_change(key, value, None)
        self._applied.clear()
        self._changes_since_prune = 0
        self.restored = False
        self._follow = None
        self._consumer = None

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        return f"ChangelogTable({self.topic!r}, keys={len(self.data)})"


class WrittenTable(Generic[V]):
    """A changelog table written outside any stage loop, through its own producer, each write
    waited for (the subscription store behind the API, the API's webhook attempt log).

    ``start``/``stop``/``restored`` have a table's signatures, so the runtime restores it
    before the loop starts, like any table."""

    def __init__(
        self, table: ChangelogTable[V], kafka: KafkaSettings, write_timeout: float, name: str
    ) -> None:
        self.table = table
        self.topic = table.topic
        self._kafka = kafka
        self._write_timeout = write_timeout
        self._name = name
        self._producer: AIOKafkaProducer | None = None
        self._prefixed = self.topic

    @property
    def restored(self) -> bool:
        return self.table.restored

    async def start(self, bootstrap: str, topic: str, client_id: str) -> None:
        self._prefixed = topic
        producer = AIOKafkaProducer(**producer_config(self._kafka, f"{client_id}-{self._name}"))
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

    async def write_through(self, key: str, value: bytes | None) -> tuple[int, int]:
        """Produces ``key`` → ``value`` (None: a tombstone); returns its (partition, offset)
        once the broker acknowledged it and this copy applied it. TimeoutError after
        ``write_timeout``; KafkaError if refused."""
        if self._producer is None:
            raise RuntimeError(f"{type(self).__name__}.start() was not called")
        async with asyncio.timeout(self._write_timeout):
            sent = await self._producer.send_and_wait(self._prefixed, value, key=key.encode())
            await self.table.wait_applied(sent.partition, sent.offset, self._write_timeout)
        return sent.partition, sent.offset
