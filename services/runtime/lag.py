"""Consumer lag and broker reachability, measured beside the consume loop.

Every ``interval`` seconds the monitor asks the broker for the end offsets of the assigned
partitions (one ListOffsets request) and sets ``newswire_consumer_lag_records`` per partition:
end offset minus the consumer's position. A reply also tells readiness the broker answers; no
reply within ``timeout`` tells it the broker does not (``/readyz`` turns 503, and back when the
broker answers again). It runs as its own task so a slow broker never holds up the loop.
"""

import asyncio
import contextlib

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from services.runtime.health import Health
from services.runtime.metrics import WorkerMetrics

log = structlog.get_logger("newswire.runtime")


def partition_lags(
    ends: dict[TopicPartition, int], positions: dict[TopicPartition, int]
) -> dict[TopicPartition, int]:
    """Records behind the end of each partition (never negative: a position can pass an end
    offset read a moment earlier)."""
    return {tp: max(0, end - positions[tp]) for tp, end in ends.items() if tp in positions}


class LagMonitor:
    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        health: Health,
        metrics: WorkerMetrics,
        service: str,
        interval: float = 5.0,
        timeout: float = 5.0,
    ) -> None:
        self.consumer = consumer
        self.health = health
        self.metrics = metrics
        self.service = service
        self.interval = interval
        self.timeout = timeout
        self._task: asyncio.Task[None] | None = None
        self._seen: set[TopicPartition] = set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"{self.service}-lag")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await self.measure()
            await asyncio.sleep(self.interval)

    async def measure(self) -> None:
        assigned = set(self.consumer.assignment())
        for gone in self._seen - assigned:  # a revoked partition is not ours to report
            self.metrics.consumer_lag.remove(self.service, gone.topic, str(gone.partition))
        self._seen &= assigned
        if not assigned:
            return
        try:
            # asyncio.timeout, not wait_for, which can lose the monitor's cancellation on
            # Python 3.11 (see services.runtime.kafka.bounded).
            async with asyncio.timeout(self.timeout):
                ends = await self.consumer.end_offsets(sorted(assigned))
            positions = {}
            for tp in assigned:
                # Known locally once fetching started; before that the broker is asked.
                async with asyncio.timeout(self.timeout):
                    positions[tp] = await self.consumer.position(tp)
        except (TimeoutError, KafkaError, AssertionError) as exc:
            # AssertionError: aiokafka asserts the partition is still assigned mid-rebalance.
            self.health.broker_unreachable(repr(exc))
            log.warning("lag_probe_failed", error=repr(exc))
            return
        lags = partition_lags(ends, positions)
        for tp, lag in lags.items():
            self.metrics.consumer_lag.labels(self.service, tp.topic, str(tp.partition)).set(lag)
        self._seen |= set(lags)
        self.health.broker_answered(sum(lags.values()))
