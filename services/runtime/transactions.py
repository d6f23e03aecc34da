"""exactly_once: each input partition's outputs, state writes and offsets in one transaction.

Per batch, for every partition in it:

1. ``begin_transaction`` on that partition's producer, once its previous transaction has
   committed.
2. The step runs on the partition's records in order; outputs, changelog writes and dead
   letters go into the transaction (record batches, as in at-least-once mode).
3. In the background, while the loop fetches and processes the next batch: once the broker
   acknowledged every output, the next offset goes into the transaction
   (``send_offsets_to_transaction`` with the group) and the transaction commits: outputs and
   the input offset become visible to ``read_committed`` readers together, or not at all.
   Revocation and shutdown wait for these commits.

A crash anywhere before the commit leaves an open transaction that the partition's next
owner aborts; the records are read again from the last committed offset and nothing written
for them survives. Downstream stages read with ``isolation_level=read_committed``.

Why one transactional producer per input partition (Kafka's original exactly-once design,
"EOS alpha") rather than one per worker: fencing a zombie (a worker paused past the session
timeout whose partitions moved on) needs something the zombie and the new owner share.
KIP-447 uses the group generation, sent in TxnOffsetCommit v3; aiokafka 0.14 only sends v0
(aiokafka/protocol/transaction.py), so a zombie's offset commit would not be fenced by the
group. A transactional id per partition is shared instead: ``<group>.<topic>.<partition>``.
The worker that takes a partition initialises that id; the broker bumps its epoch, aborts
the old owner's open transaction, and answers every later write or commit of the old owner
with ProducerFenced. Only then does the new owner read the partition's committed offset, so
it never starts from an offset a finishing transaction is about to move.

Any broker failure (fenced, timed out, broker gone) ends the loop with the error; the worker
rebuilds its clients, reloads its tables from their changelogs (the local copy may hold
writes of the aborted transaction) and goes on from the committed offsets (app.py).
"""

import asyncio
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition

from services.runtime.health import Health
from services.runtime.kafka import bounded, make_transactional_producer, stop_quietly
from services.runtime.loop import StageLoop
from services.runtime.metrics import WorkerMetrics
from services.runtime.parallel import StepPool
from services.runtime.produce import OutputBatch
from services.runtime.settings import RuntimeSettings
from services.runtime.worker import Worker

log = structlog.get_logger("newswire.runtime")


def transactional_id(group: str, tp: TopicPartition) -> str:
    """Shared by every worker that ever owns ``tp`` in ``group``: the fencing key."""
    return f"{group}.{tp.topic}.{tp.partition}"


class PartitionProducers:
    """The transactional producer of each input partition this worker owns."""

    def __init__(self, settings: RuntimeSettings, client_id: str, group: str) -> None:
        self._settings = settings
        self._client_id = client_id
        self._group = group
        self._producers: dict[TopicPartition, AIOKafkaProducer] = {}

    def get(self, tp: TopicPartition) -> AIOKafkaProducer | None:
        return self._producers.get(tp)

    async def acquire(self, tp: TopicPartition) -> AIOKafkaProducer:
        """Starts ``tp``'s producer. Its start initialises the transactional id: any earlier
        owner is fenced and its open transaction aborted (or let finish) before this returns."""
        existing = self._producers.get(tp)
        if existing is not None:
            return existing
        kafka = self._settings.kafka
        producer = make_transactional_producer(
            kafka,
            f"{self._client_id}-{tp.partition}",
            transactional_id(self._group, tp),
        )
        try:
            await bounded(producer.start(), kafka.call_timeout_seconds, "transactional start")
        except BaseException:
            await stop_quietly(producer, kafka.call_timeout_seconds)
            raise
        self._producers[tp] = producer
        return producer

    async def release(self, tps: set[TopicPartition]) -> None:
        """Stops the producers of ``tps``, side by side: with the broker away each may take
        the whole call timeout."""
        producers = [p for p in (self._producers.pop(tp, None) for tp in tps) if p is not None]
        timeout = self._settings.kafka.call_timeout_seconds
        await asyncio.gather(*(stop_quietly(p, timeout) for p in producers))

    async def close(self) -> None:
        await self.release(set(self._producers))

    def __len__(self) -> int:
        return len(self._producers)


class TransactionalStageLoop(StageLoop[Any, Any]):
    """The stage loop of ``processing_guarantee=exactly_once``."""

    def __init__(
        self,
        worker: Worker[Any, Any],
        settings: RuntimeSettings,
        consumer: AIOKafkaConsumer,
        producers: PartitionProducers,
        metrics: WorkerMetrics,
        health: Health,
        group: str,
        *,
        pool: StepPool | None = None,
    ) -> None:
        # The base class's producer is never used here: every write is in a partition's
        # transaction. Its offset bookkeeping is unused too: offsets commit in transactions.
        super().__init__(worker, settings, consumer, None, metrics, health, pool=pool)
        self.producers = producers
        self.group = group
        # The offset each owned partition goes on from: set from the committed offset when it
        # is assigned, then past each committed batch. Records below it, fetched across the
        # assignment's seek, are dropped, so none is processed twice in one ownership.
        self.expected: dict[TopicPartition, int] = {}
        # The transaction each partition is committing in the background (at most one).
        self._committing: dict[TopicPartition, asyncio.Task[None]] = {}
        # A failure inside a rebalance callback, which aiokafka would only log; the loop
        # raises it so the worker rebuilds instead of running without a partition's producer.
        self.rebalance_error: BaseException | None = None

    def rebalance_listener(self) -> ConsumerRebalanceListener:
        return _TransactionalRebalance(self)

    async def run(self, stop: asyncio.Event) -> None:
        """Runs until ``stop`` is set, then waits for the transactions still committing."""
        while not stop.is_set():
            batch = await self.poll()
            if self.rebalance_error is not None:
                raise self.rebalance_error
            async with self._lock:
                self._raise_failed_commits()
                if batch:
                    self.health.progressed()
                    await self.transact(batch)
                self.metrics.in_flight_batches.labels(self._service).set(len(self._committing))
        async with self._lock:
            await self.drain()

    async def transact(self, batch: dict[TopicPartition, list[Any]]) -> None:
        """Processes ``batch``: one transaction per partition in it, committed in the
        background while the next batch is fetched and processed. A partition's next
        transaction begins once its previous one committed (one open transaction per
        producer), so per partition the order is strict."""
        self.metrics.batch_records.labels(self._service).observe(
            sum(len(r) for r in batch.values())
        )
        timeout = self.settings.kafka.call_timeout_seconds
        preparing = self.prepare_all(batch)
        try:
            await self._transact_batch(batch, preparing, timeout)
        finally:
            for future in preparing.values():
                future.cancel()

    async def _transact_batch(
        self,
        batch: dict[TopicPartition, list[Any]],
        preparing: "dict[TopicPartition, asyncio.Future[list[Any]]]",
        timeout: float,
    ) -> None:
        for tp, records in batch.items():
            producer = self.producers.get(tp)
            expected = self.expected.get(tp)
            if producer is None or expected is None:
                # Revoked since the fetch: the partition's new owner reads these again.
                log.info(
                    "records_of_revoked_partition_skipped", partition=f"{tp.topic}:{tp.partition}"
                )
                continue
            if records[0].offset < expected:
                # Fetched before the assignment's seek: records already processed, or before
                # the committed offset. Offsets name records for good, so the rest are valid.
                # (A first offset above ``expected`` is normal: transaction markers, aborted
                # records and compaction leave gaps.)
                log.info(
                    "stale_records_dropped",
                    partition=f"{tp.topic}:{tp.partition}",
                    fetched_from=records[0].offset,
                    expected=expected,
                )
                records = [r for r in records if r.offset >= expected]
                if not records:
                    continue
            previous = self._committing.pop(tp, None)
            if previous is not None:
                await previous  # raises if it failed: nothing after it may commit
            await bounded(producer.begin_transaction(), timeout, "begin transaction")
            outputs = OutputBatch(producer)
            prepared = await preparing[tp] if tp in preparing else None
            if prepared is not None:
                # The pool had every fetched record; the stale ones were dropped above.
                prepared = prepared[len(prepared) - len(records) :]
            await self.process_partition(tp, records, outputs, prepared)
            await outputs.flush()
            next_offset = records[-1].offset + 1
            self.expected[tp] = next_offset
            self._committing[tp] = asyncio.create_task(
                self._commit(tp, producer, outputs, next_offset),
                name=f"commit-{tp.topic}:{tp.partition}",
            )

    def _raise_failed_commits(self) -> None:
        for tp, task in list(self._committing.items()):
            if task.done():
                del self._committing[tp]
                task.result()  # a failed transaction ends the loop: the worker rebuilds

    async def drain(self) -> None:
        """Waits for every transaction still committing; raises the first failure."""
        pending = list(self._committing.values())
        self._committing.clear()
        results = await asyncio.gather(*pending, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _commit(
        self, tp: TopicPartition, producer: AIOKafkaProducer, outputs: OutputBatch, next_offset: int
    ) -> None:
        timeout = self.settings.kafka.call_timeout_seconds
        try:
            await bounded(
                outputs.acknowledged(), timeout, "acknowledgement of a transaction's outputs"
            )
            await bounded(
                producer.send_offsets_to_transaction({tp: next_offset}, self.group),
                timeout,
                "offsets into the transaction",
            )
            await bounded(producer.commit_transaction(), timeout, "transaction commit")
        except BaseException:
            self.metrics.commits.labels(self._service, "failed").inc()
            raise
        self.metrics.commits.labels(self._service, "ok").inc()
        for topic, count, _ in outputs.sends:
            self.metrics.records_produced.labels(self._service, topic).inc(count)
        log.debug(
            "transaction_committed", partition=f"{tp.topic}:{tp.partition}", offset=next_offset
        )

    async def close(self) -> None:
        for task in self._committing.values():
            task.cancel()
        await asyncio.gather(*self._committing.values(), return_exceptions=True)
        self._committing.clear()
        await self.producers.close()


class _TransactionalRebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, loop: TransactionalStageLoop) -> None:
        self.loop = loop

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        # Waits for the batch in progress and its commits: they finish before partitions move.
        async with self.loop._lock:
            try:
                await self.loop.drain()
            except Exception as exc:  # the loop raises it: the worker rebuilds
                self.loop.rebalance_error = exc
            await self.loop.producers.release(revoked)
            for tp in revoked:
                self.loop.expected.pop(tp, None)
        log.info(
            "partitions_revoked", partitions=sorted(f"{tp.topic}:{tp.partition}" for tp in revoked)
        )

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        loop = self.loop
        timeout = loop.settings.kafka.call_timeout_seconds
        try:
            async with loop._lock:
                for tp in sorted(assigned):
                    await loop.producers.acquire(tp)
                    # Read after the fence: no transaction of an earlier owner can still move it.
                    committed = await bounded(
                        loop.consumer.committed(tp), timeout, "committed offset"
                    )
                    if committed is None:  # nothing committed yet: the start of the log
                        starts = await bounded(
                            loop.consumer.beginning_offsets([tp]), timeout, "log start offset"
                        )
                        committed = starts[tp]
                    loop.consumer.seek(tp, committed)
                    loop.expected[tp] = committed
        except Exception as exc:
            log.warning("partition_assignment_failed", error=repr(exc))
            loop.rebalance_error = exc
            return
        loop.health.joined(len(assigned))
        loop.metrics.assigned_partitions.labels(loop._service).set(len(assigned))
        log.info(
            "partitions_assigned",
            partitions=sorted(f"{tp.topic}:{tp.partition}" for tp in assigned),
        )
