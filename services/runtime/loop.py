"""The stage loop: consume → process → produce → wait for acks → commit.

One batch at a time, in this order (the order is the delivery guarantee):

1. ``getmany`` returns up to ``max_batch`` records across the assigned partitions.
2. Each record is processed in partition order (:func:`process_record`); its outputs, or its
   dead letter, are handed to the idempotent producer, which batches them (``linger_ms``).
3. The loop waits until the broker acknowledged every output of the batch (``acks=all``).
   A failed send raises: the worker stops and the batch's offsets stay uncommitted, so the
   batch is read again after a restart (at-least-once; the producer's idempotence and
   downstream ids keep the repeats harmless).
4. Only then are the batch's next offsets marked acknowledged, and committed when the
   :class:`CommitPolicy` says so, on partition revocation, and on shutdown.
"""

import asyncio
import time
from collections.abc import Iterable
from typing import Any, Generic

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from services.runtime.commit import CommitPolicy, PendingOffsets, TopicPartitionKey
from services.runtime.health import Health
from services.runtime.metrics import WorkerMetrics
from services.runtime.settings import RuntimeSettings
from services.runtime.worker import In, Out, Worker, process_record, to_input

log = structlog.get_logger("newswire.runtime")


class StageLoop(Generic[In, Out]):
    def __init__(
        self,
        worker: Worker[In, Out],
        settings: RuntimeSettings,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        metrics: WorkerMetrics,
        health: Health,
    ) -> None:
        self.worker = worker
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

    def subscribe(self) -> None:
        topic = self.settings.topic(self.worker.source.name)
        self.consumer.subscribe([topic], listener=_Rebalance(self))

    async def run(self, stop: asyncio.Event) -> None:
        """Runs until ``stop`` is set, then commits what was acknowledged."""
        kafka = self.settings.kafka
        while not stop.is_set():
            batch = await self.consumer.getmany(
                timeout_ms=kafka.poll_timeout_ms, max_records=kafka.max_batch
            )
            self.health.loop_turned()
            self.metrics.last_loop_timestamp.labels(self._service).set(time.time())
            if batch:
                async with self._lock:
                    await self._process_batch(batch)
            if self.pending.due(time.monotonic()):
                async with self._lock:
                    await self.commit("policy")
        async with self._lock:
            await self.commit("shutdown")

    async def _process_batch(self, batch: dict[TopicPartition, list[Any]]) -> None:
        service = self._service
        sends: list[tuple[str, asyncio.Future[Any]]] = []
        done: list[tuple[str, int, int, int]] = []
        self.metrics.batch_records.labels(service).observe(sum(len(r) for r in batch.values()))
        for tp, records in batch.items():
            for record in records:
                structlog.contextvars.clear_contextvars()
                structlog.contextvars.bind_contextvars(
                    service=service, topic=tp.topic, partition=tp.partition, offset=record.offset
                )
                started = time.perf_counter()
                result = await process_record(
                    self.worker, to_input(record), self.settings.max_record_bytes
                )
                self.metrics.processing_seconds.labels(service).observe(
                    time.perf_counter() - started
                )
                self.metrics.records_consumed.labels(service, tp.topic, result.outcome).inc()
                if result.reason:
                    self.metrics.dead_letters.labels(service, result.reason).inc()
                for reason in result.drops:
                    self.metrics.dropped.labels(service, reason).inc()
                for out in result.records:
                    topic = self.settings.topic(out.topic)
                    future = await self.producer.send(
                        topic, value=out.value, key=out.key, headers=out.headers
                    )
                    sends.append((topic, future))
                log.debug("record_processed", outcome=result.outcome, outputs=len(result.records))
            done.append((tp.topic, tp.partition, records[-1].offset + 1, len(records)))
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(service=service)
        # Step 3: every output acknowledged, or an exception that stops the worker.
        await asyncio.gather(*(future for _, future in sends))
        for topic, _ in sends:
            self.metrics.records_produced.labels(service, topic).inc()
        # Step 4: only now may these offsets be committed.
        for topic, partition, next_offset, count in done:
            self.pending.acknowledge(topic, partition, next_offset, count)

    async def commit(self, why: str, only: Iterable[TopicPartition] | None = None) -> None:
        """Commits acknowledged offsets of partitions this consumer still owns.

        A failed commit is logged and counted, not raised: the records behind it were already
        delivered and will be delivered again after the rebalance (at-least-once).
        """
        owned: set[TopicPartitionKey] = {
            (tp.topic, tp.partition) for tp in (only or self.consumer.assignment())
        }
        offsets = self.pending.take(time.monotonic(), owned)
        if not offsets:
            return
        try:
            await self.consumer.commit({TopicPartition(t, p): o for (t, p), o in offsets.items()})
        except (CommitFailedError, IllegalStateError, KafkaError) as exc:
            self.metrics.commits.labels(self._service, "failed").inc()
            log.warning("commit_failed", why=why, error=repr(exc))
            return
        self.metrics.commits.labels(self._service, "ok").inc()
        log.debug(
            "offsets_committed", why=why, offsets={f"{t}:{p}": o for (t, p), o in offsets.items()}
        )


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, loop: StageLoop[Any, Any]) -> None:
        self.loop = loop

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        async with self.loop._lock:
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
