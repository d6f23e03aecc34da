"""A consume loop for slow, independent work per record (webhook delivery), finished out of order.

The stage loop (loop.py) awaits each record's step in partition order, which is right for
CPU-bound steps that take milliseconds. A webhook may take seconds, and its retries hours;
awaited in order, one slow receiver would stall every subscriber behind it. Here:

1. ``getmany`` returns records; each is handed to the :class:`Dispatcher`, which returns a
   future that completes when the record is finished (delivered, dead-lettered, skipped:
   the dispatcher's outputs acknowledged by the broker first). The dispatcher works on many
   records at once and finishes them in any order.
2. Per partition, :class:`OutOfOrderOffsets` tracks what was handed out; the committable
   offset is the first record not finished yet. A record finished after an unfinished one is
   read again after a restart (the dispatcher's ledger makes that harmless).
3. A partition with ``max_pending`` unfinished records is paused (backpressure: memory and the
   re-read window stay bounded) and resumed below it.
4. Committable offsets are committed by the :class:`CommitPolicy`, on revocation and on stop.
   On revocation and stop, unfinished work on those partitions is cancelled, not awaited (a
   retry may be hours away); the next owner reads those records again.
5. A future that fails with an exception other than cancellation stops the loop loudly, and
   nothing past that record is committed.
"""

import asyncio
import gc
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from prometheus_client import CollectorRegistry

from schemas.topics import TopicSpec
from services.runtime.app import worker_run
from services.runtime.commit import (
    CommitPolicy,
    OutOfOrderOffsets,
    PendingOffsets,
    TopicPartitionKey,
)
from services.runtime.health import Health
from services.runtime.kafka import bounded
from services.runtime.loop import commit_owned
from services.runtime.metrics import WorkerMetrics
from services.runtime.settings import RuntimeSettings
from services.runtime.worker import InputRecord, OutRecord, to_input

log = structlog.get_logger("newswire.runtime")


class Dispatcher(Protocol):
    """Works on records concurrently; what a dispatch loop hands its records to."""

    def submit(self, record: InputRecord) -> "asyncio.Future[None]":
        """Starts work on ``record``; the future completes when it is finished for good."""
        ...

    def abandon(self, partitions: set[TopicPartitionKey]) -> None:
        """Cancels unfinished work on ``partitions`` (revoked, or the worker is stopping)."""
        ...

    async def close(self) -> None: ...


class Emitter:
    """Produces records and waits until the broker acknowledged every one."""

    def __init__(
        self,
        producer: Callable[[], AIOKafkaProducer],
        settings: RuntimeSettings,
        metrics: WorkerMetrics,
    ) -> None:
        """``producer`` returns the worker's current producer (rebuilt after broker trouble)."""
        self._producer = producer
        self._settings = settings
        self._metrics = metrics

    async def emit(self, records: list[OutRecord]) -> None:
        sends = []
        producer = self._producer()
        timeout = self._settings.kafka.call_timeout_seconds
        for out in records:
            topic = self._settings.topic(out.topic)
            future = await bounded(
                producer.send(topic, value=out.value, key=out.key, headers=out.headers),
                timeout,
                "send",
            )
            sends.append((topic, future))
        for topic, future in sends:
            await bounded(future, timeout, "acknowledgement")
            self._metrics.records_produced.labels(self._metrics.service, topic).inc()


class DispatchLoop:
    def __init__(
        self,
        name: str,
        source: TopicSpec[Any],
        settings: RuntimeSettings,
        consumer: AIOKafkaConsumer,
        dispatcher: Dispatcher,
        metrics: WorkerMetrics,
        health: Health,
        max_pending: int,
    ) -> None:
        self.name = name
        self.source = source
        self.settings = settings
        self.consumer = consumer
        self.dispatcher = dispatcher
        self.metrics = metrics
        self.health = health
        self.max_pending = max_pending
        policy = CommitPolicy(settings.commit.every_messages, settings.commit.every_seconds)
        self.pending = PendingOffsets(policy, time.monotonic())
        self.partitions: dict[TopicPartition, OutOfOrderOffsets] = {}
        self.paused: set[TopicPartition] = set()
        self.failure: BaseException | None = None
        self._lock = asyncio.Lock()

    def subscribe(self) -> None:
        topic = self.settings.topic(self.source.name)
        self.consumer.subscribe([topic], listener=_Rebalance(self))

    async def close(self) -> None:
        """Work still in hand was abandoned when :meth:`run` ended; nothing else to release."""

    async def run(self, stop: asyncio.Event) -> None:
        kafka = self.settings.kafka
        try:
            while not stop.is_set():
                batch = await self.consumer.getmany(
                    timeout_ms=kafka.poll_timeout_ms, max_records=kafka.max_batch
                )
                self.health.loop_turned()
                self.metrics.last_loop_timestamp.labels(self.name).set(time.time())
                if batch:
                    self.health.progressed()
                async with self._lock:
                    for tp, records in batch.items():
                        self.metrics.batch_records.labels(self.name).observe(len(records))
                        for record in records:
                            self._hand_out(tp, to_input(record))
                    if self.failure is not None:
                        raise self.failure
                    self._advance()
                    self._flow_control()
                    if self.pending.due(time.monotonic()):
                        await self.commit("policy")
        finally:
            async with self._lock:
                owned = {(tp.topic, tp.partition) for tp in self.partitions}
                self.dispatcher.abandon(owned)
                await asyncio.sleep(0)  # let cancelled work unwind before committing
                if self.failure is None:
                    self._advance()
                    await self.commit("shutdown")

    def _hand_out(self, tp: TopicPartition, record: InputRecord) -> None:
        offsets = self.partitions.setdefault(tp, OutOfOrderOffsets())
        offsets.add(record.offset)
        future = self.dispatcher.submit(record)
        future.add_done_callback(lambda f: self._finished(tp, record.offset, f))

    def _finished(self, tp: TopicPartition, offset: int, future: "asyncio.Future[None]") -> None:
        if future.cancelled():
            return
        error = future.exception()
        if error is not None:
            # A bug or an outage: stop, and commit nothing from this record on.
            if self.failure is None:
                self.failure = error
                log.error(
                    "dispatch_failed", partition=tp.partition, offset=offset, error=repr(error)
                )
            return
        offsets = self.partitions.get(tp)
        if offsets is not None:
            offsets.finish(offset)
            self.metrics.records_consumed.labels(self.name, tp.topic, "ok").inc()

    def _advance(self) -> None:
        total = 0
        for tp, offsets in self.partitions.items():
            moved = offsets.advance()
            if moved is not None:
                self.pending.acknowledge(tp.topic, tp.partition, *moved)
            total += offsets.pending()
        self.metrics.pending_records.labels(self.name).set(total)

    def _flow_control(self) -> None:
        for tp, offsets in self.partitions.items():
            full = offsets.pending() >= self.max_pending
            if full and tp not in self.paused:
                self.consumer.pause(tp)
                self.paused.add(tp)
                log.info("partition_paused", partition=tp.partition, pending=offsets.pending())
            elif not full and tp in self.paused:
                self.consumer.resume(tp)
                self.paused.discard(tp)
                log.info("partition_resumed", partition=tp.partition)

    async def commit(self, why: str, only: set[TopicPartition] | None = None) -> None:
        await commit_owned(
            self.consumer,
            self.pending,
            self.metrics,
            self.name,
            why,
            only,
            timeout=self.settings.kafka.call_timeout_seconds,
        )

    async def revoke(self, revoked: set[TopicPartition]) -> None:
        async with self._lock:
            keys = {(tp.topic, tp.partition) for tp in revoked}
            self.dispatcher.abandon(keys)
            await asyncio.sleep(0)
            self._advance()
            await self.commit("revoke", only=revoked)
            self.pending.forget(keys)
            for tp in revoked:
                self.partitions.pop(tp, None)
                self.paused.discard(tp)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, loop: DispatchLoop) -> None:
        self.loop = loop

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.loop.revoke(revoked)
        log.info(
            "partitions_revoked", partitions=sorted(f"{tp.topic}:{tp.partition}" for tp in revoked)
        )

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.loop.health.joined(len(assigned))
        self.loop.metrics.assigned_partitions.labels(self.loop.name).set(len(assigned))
        log.info(
            "partitions_assigned",
            partitions=sorted(f"{tp.topic}:{tp.partition}" for tp in assigned),
        )


DispatcherFactory = Callable[[Emitter, WorkerMetrics], Awaitable[Dispatcher]]


async def run_dispatch(
    name: str,
    source: TopicSpec[Any],
    settings: RuntimeSettings,
    make_dispatcher: DispatcherFactory,
    *,
    max_pending: int,
    tables: tuple[Any, ...] = (),
    stop: asyncio.Event | None = None,
    handle_signals: bool = False,
    registry: CollectorRegistry | None = None,
) -> None:
    """Runs a dispatch worker until ``stop`` is set (or SIGTERM/SIGINT with ``handle_signals``):
    health endpoints, clients, ``tables`` restored before the first record, orderly stop."""
    async with worker_run(
        name,
        settings,
        tables=tables,
        stop=stop,
        handle_signals=handle_signals,
        registry=registry,
    ) as run:
        dispatcher = await make_dispatcher(
            Emitter(lambda: run.producer, settings, run.metrics), run.metrics
        )
        run.after_consumer.append(dispatcher.close)
        gc.freeze()  # restored tables and the dispatcher live as long as the process (app.py)
        await run.keep_running(
            lambda: DispatchLoop(
                name,
                source,
                settings,
                run.consumer,
                dispatcher,
                run.metrics,
                run.health,
                max_pending,
            ),
            lambda: log.info(
                "worker_started", source=settings.topic(source.name), group=settings.group_for(name)
            ),
        )
