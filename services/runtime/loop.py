"""The stage loop: consume → process → produce → wait for acks → commit.

Per batch, in this order (the order is the delivery guarantee):

1. ``getmany`` returns up to ``max_batch`` records across the assigned partitions.
2. Each record is processed in partition order (:func:`process_record`); its outputs, or its
   dead letter, are appended to record batches per output topic-partition
   (:class:`OutputBatch`) that the idempotent producer sends.
   The batch then waits in a FIFO of in-flight batches while the loop fetches and processes
   the next one, so the CPU is not idle during the broker round trip.
3. The oldest in-flight batch is harvested once the broker acknowledged every one of its
   outputs (``acks=all``), and only then are its next offsets marked committable. Batches are
   harvested strictly in order, so a committable offset never passes an unacknowledged
   output. A failed send raises: the loop ends and nothing from that batch on is
   committed, so it is read again after the worker rebuilds its clients or restarts
   (at-least-once; ids keep repeats harmless). No acknowledgement is awaited longer than
   ``kafka.call_timeout_seconds``.
   With ``max_in_flight_batches`` batches waiting, the loop waits for the oldest
   (backpressure).
4. Committable offsets are committed when the :class:`CommitPolicy` says so, and, after
   draining every in-flight batch, on partition revocation and on shutdown.
"""

import asyncio
import functools
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Generic

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from services.runtime.commit import CommitPolicy, PendingOffsets, TopicPartitionKey
from services.runtime.errors import BrokerCallTimeout
from services.runtime.health import Health
from services.runtime.kafka import bounded
from services.runtime.metrics import WorkerMetrics
from services.runtime.parallel import StepPool
from services.runtime.produce import OutputBatch, acknowledged
from services.runtime.settings import RuntimeSettings
from services.runtime.worker import NOT_PREPARED, In, Out, Worker, process_record, to_input

log = structlog.get_logger("newswire.runtime")


@dataclass
class _InFlight:
    """A processed batch whose outputs the broker has not acknowledged yet."""

    sends: list[tuple[str, int, "asyncio.Future[Any]"]]  # topic, records, future
    next_offsets: list[tuple[str, int, int, int]]  # topic, partition, next offset, records

    def acked(self) -> bool:
        return all(future.done() for _, _, future in self.sends)


def _readable(value: bytes | None, limit: int) -> bytes | None:
    """What the step pool gets of a record: nothing of one the runtime refuses unread."""
    return value if value is not None and len(value) <= limit else None


class StageLoop(Generic[In, Out]):
    def __init__(
        self,
        worker: Worker[In, Out],
        settings: RuntimeSettings,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        metrics: WorkerMetrics,
        health: Health,
        *,
        pool: StepPool | None = None,
    ) -> None:
        self.worker = worker
        # Runs the worker's prepare function on each partition's records in child processes.
        self.pool = pool if worker.prepare is not None else None
        self.settings = settings
        self.consumer = consumer
        self.producer = producer
        self.metrics = metrics
        self.health = health
        policy = CommitPolicy(settings.commit.every_messages, settings.commit.every_seconds)
        self.pending = PendingOffsets(policy, time.monotonic())
        # Held while a batch is in flight and while committing, so a rebalance's revoke
        # callback waits for the batch's acks and commits them before partitions move.
        self._lock = asyncio.Lock()
        self._service = worker.name
        self._in_flight: deque[_InFlight] = deque()

    @functools.cache  # noqa: B019 (one loop per worker; the cache lives as long as it does)
    def _consumed(self, topic: str, outcome: str) -> Any:
        """The labelled counter child, looked up once: labels() costs a lock and a dict."""
        return self.metrics.records_consumed.labels(self._service, topic, outcome)

    def subscribe(self) -> None:
        topic = self.settings.topic(self.worker.source.name)
        self.consumer.subscribe([topic], listener=self.rebalance_listener())

    def rebalance_listener(self) -> ConsumerRebalanceListener:
        return _Rebalance(self)

    async def poll(self) -> dict[TopicPartition, list[Any]]:
        """One fetch (empty after ``poll_timeout_ms``), and the marks liveness reads."""
        kafka = self.settings.kafka
        batch: dict[TopicPartition, list[Any]] = await self.consumer.getmany(
            timeout_ms=kafka.poll_timeout_ms, max_records=kafka.max_batch
        )
        self.health.loop_turned()
        self.metrics.last_loop_timestamp.labels(self._service).set(time.time())
        return batch

    async def run(self, stop: asyncio.Event) -> None:
        """Runs until ``stop`` is set, then commits what was acknowledged."""
        kafka = self.settings.kafka
        while not stop.is_set():
            batch = await self.poll()
            async with self._lock:
                await self.harvest(wait=False)
                if batch:
                    self.health.progressed()
                    self._in_flight.append(await self._process_batch(batch))
                    while len(self._in_flight) > kafka.max_in_flight_batches:
                        await self._harvest_oldest()
                self.metrics.in_flight_batches.labels(self._service).set(len(self._in_flight))
                if self.pending.due(time.monotonic()):
                    await self.commit("policy")
        async with self._lock:
            await self.harvest(wait=True)
            await self.commit("shutdown")

    async def harvest(self, wait: bool) -> None:
        """Marks acknowledged batches committable, oldest first; ``wait``: drain them all."""
        while self._in_flight and (wait or self._in_flight[0].acked()):
            await self._harvest_oldest()

    async def _harvest_oldest(self) -> None:
        batch = self._in_flight[0]
        # Every output acknowledged, or an exception: the worker rebuilds its clients (or, for
        # a bug, stops) and nothing from this batch on is committed.
        await bounded(
            acknowledged(batch.sends),
            self.settings.kafka.call_timeout_seconds,
            "acknowledgement of a batch's outputs",
        )
        self._in_flight.popleft()
        for topic, records, _ in batch.sends:
            self.metrics.records_produced.labels(self._service, topic).inc(records)
        for topic, partition, next_offset, count in batch.next_offsets:
            self.pending.acknowledge(topic, partition, next_offset, count)

    async def _process_batch(self, batch: dict[TopicPartition, list[Any]]) -> _InFlight:
        outputs = OutputBatch(self.producer)
        done: list[tuple[str, int, int, int]] = []
        self.metrics.batch_records.labels(self._service).observe(
            sum(len(r) for r in batch.values())
        )
        preparing = self.prepare_all(batch)
        try:
            for tp, records in batch.items():
                prepared = await preparing[tp] if tp in preparing else None
                await self.process_partition(tp, records, outputs, prepared)
                done.append((tp.topic, tp.partition, records[-1].offset + 1, len(records)))
        finally:
            for future in preparing.values():
                future.cancel()
        await outputs.flush()
        return _InFlight(outputs.sends, done)

    def prepare_all(
        self, batch: dict[TopicPartition, list[Any]]
    ) -> "dict[TopicPartition, asyncio.Future[list[Any]]]":
        """Hands every partition's records to the step pool at once (none without a pool):
        the children work on the later partitions while this process runs the steps of the
        earlier ones. Each partition's results come back in record order."""
        if self.pool is None:
            return {}
        pool, limit = self.pool, self.settings.max_record_bytes
        return {
            tp: asyncio.ensure_future(pool.map([_readable(r.value, limit) for r in records]))
            for tp, records in batch.items()
        }

    async def process_partition(
        self,
        tp: TopicPartition,
        records: list[Any],
        outputs: OutputBatch,
        prepared: list[Any] | None = None,
    ) -> None:
        """Runs the step on one partition's records in order, adding what they produce to
        ``outputs`` (submitted as record batches fill up; the rest at ``outputs.flush()``).
        ``prepared``: the step pool's results for ``records`` (None: computed here)."""
        service = self._service
        processing = self.metrics.processing_seconds.labels(service)
        for index, record in enumerate(records):
            structlog.contextvars.clear_contextvars()
            structlog.contextvars.bind_contextvars(
                service=service, topic=tp.topic, partition=tp.partition, offset=record.offset
            )
            started = time.perf_counter()
            result = await process_record(
                self.worker,
                to_input(record),
                self.settings.max_record_bytes,
                NOT_PREPARED if prepared is None else prepared[index],
            )
            processing.observe(time.perf_counter() - started)
            self._consumed(tp.topic, result.outcome).inc()
            if result.reason:
                self.metrics.dead_letters.labels(service, result.reason).inc()
            for reason in result.drops:
                self.metrics.dropped.labels(service, reason).inc()
            for out in result.records:
                await outputs.add(self.settings.topic(out.topic), out.key, out.value, out.headers)
            log.debug("record_processed", outcome=result.outcome, outputs=len(result.records))
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(service=service)

    async def commit(self, why: str, only: Iterable[TopicPartition] | None = None) -> None:
        await commit_owned(
            self.consumer,
            self.pending,
            self.metrics,
            self._service,
            why,
            only,
            timeout=self.settings.kafka.call_timeout_seconds,
        )

    async def close(self) -> None:
        """Nothing of its own to release (the clients belong to the worker run)."""


async def commit_owned(
    consumer: AIOKafkaConsumer,
    pending: PendingOffsets,
    metrics: WorkerMetrics,
    service: str,
    why: str,
    only: Iterable[TopicPartition] | None = None,
    timeout: float = 30.0,
) -> None:
    """Commits the committable offsets of partitions ``consumer`` still owns (or ``only``).

    A failed or timed-out commit is logged and counted, not raised: the records behind it
    were already delivered and will be delivered again after the rebalance (at-least-once).
    """
    owned: set[TopicPartitionKey] = {
        (tp.topic, tp.partition) for tp in (only or consumer.assignment())
    }
    offsets = pending.take(time.monotonic(), owned)
    if not offsets:
        return
    try:
        await bounded(
            consumer.commit({TopicPartition(t, p): o for (t, p), o in offsets.items()}),
            timeout,
            "offset commit",
        )
    except (CommitFailedError, IllegalStateError, KafkaError, BrokerCallTimeout) as exc:
        metrics.commits.labels(service, "failed").inc()
        log.warning("commit_failed", why=why, error=repr(exc))
        return
    metrics.commits.labels(service, "ok").inc()
    log.debug(
        "offsets_committed", why=why, offsets={f"{t}:{p}": o for (t, p), o in offsets.items()}
    )


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, loop: StageLoop[Any, Any]) -> None:
        self.loop = loop

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        async with self.loop._lock:
            await self.loop.harvest(wait=True)
            await self.loop.commit("revoke", only=revoked)
            self.loop.pending.forget({(tp.topic, tp.partition) for tp in revoked})
        log.info(
            "partitions_revoked", partitions=sorted(f"{tp.topic}:{tp.partition}" for tp in revoked)
        )

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.loop.health.joined(len(assigned))
        self.loop.metrics.assigned_partitions.labels(self.loop._service).set(len(assigned))
        log.info(
            "partitions_assigned",
            partitions=sorted(f"{tp.topic}:{tp.partition}" for tp in assigned),
        )
