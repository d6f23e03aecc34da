"""Running a worker: clients, HTTP endpoints, signals and an orderly shutdown."""

import asyncio
import contextlib
import gc
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from prometheus_client import CollectorRegistry
from prometheus_client.registry import Collector

from services.runtime.errors import is_broker_trouble
from services.runtime.health import Health, health_app, start_http
from services.runtime.kafka import bounded, make_consumer, make_producer, stop_quietly
from services.runtime.lag import LagMonitor
from services.runtime.loop import StageLoop
from services.runtime.metrics import TableCollector, WorkerMetrics
from services.runtime.parallel import StepPool
from services.runtime.settings import RuntimeSettings
from services.runtime.table import ChangelogTable
from services.runtime.transactions import PartitionProducers, TransactionalStageLoop
from services.runtime.worker import Companion, Worker

log = structlog.get_logger("newswire.runtime")

# Rebuilds further apart than this are separate incidents, each starting at the first backoff.
REBUILD_QUIET_SECONDS = 60.0


async def run_until_stopped(
    loop: Coroutine[Any, Any, None], name: str, stop: asyncio.Event, health: Health, grace: float
) -> None:
    """Runs a consume loop until it ends or ``stop`` is set; then gives it ``grace`` seconds to
    finish its batch and commit before cancelling it. Re-raises a loop failure: the process
    must exit non-zero."""
    task = asyncio.create_task(loop, name=name)
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    if not task.done():
        log.info("worker_stopping")
        health.stopping = True
        try:
            await asyncio.wait_for(asyncio.shield(task), grace)
        except TimeoutError:
            log.error("shutdown_timeout", seconds=grace)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    stopped.cancel()
    task.result()


class ConsumeLoop(Protocol):
    """What :meth:`WorkerRun.keep_running` runs: a stage loop or a dispatch loop."""

    def subscribe(self) -> None: ...
    async def run(self, stop: asyncio.Event) -> None: ...
    async def close(self) -> None: ...


@dataclass
class WorkerRun:
    """What a running worker's loop needs: its clients and state, and what to stop at the end.

    Stopped in this order: ``companions`` (last started first), the lag monitor, the consumer
    (it leaves the group), ``after_consumer`` (work the loop handed out), the tables, the
    producer (flushes), the HTTP server. :meth:`rebuild` replaces the lag monitor, consumer
    and producer after broker trouble; metrics, health, HTTP, companions and tables stay.
    """

    name: str
    stop: asyncio.Event
    metrics: WorkerMetrics
    health: Health
    producer: AIOKafkaProducer
    consumer: AIOKafkaConsumer
    client_id: str
    settings: RuntimeSettings
    companions: list[Companion] = field(default_factory=list)
    after_consumer: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    lag: LagMonitor | None = None
    failures: int = 0
    last_rebuild: float = 0.0

    async def start_lag_monitor(self, settings: RuntimeSettings) -> None:
        """Lag and broker reachability for /readyz, beside the loop; stopped first."""
        lag = LagMonitor(
            self.consumer, self.health, self.metrics, self.name, settings.lag_probe_seconds
        )
        await lag.start()
        self.lag = lag

    async def stop_clients(self) -> None:
        timeout = self.settings.kafka.call_timeout_seconds
        if self.lag is not None:
            await self.lag.stop()
            self.lag = None
        await stop_quietly(self.consumer, timeout)

    async def rebuild(self, error: BaseException, tables: Sequence[Any] = ()) -> None:
        """Replaces the Kafka clients after ``error`` (broker trouble): not ready meanwhile,
        retried with a doubling backoff until it works or the worker is asked to stop.

        ``tables`` are reloaded from their changelogs (exactly_once: the local copy may hold
        writes of a transaction that was aborted).
        """
        settings = self.settings
        if time.monotonic() - self.last_rebuild > REBUILD_QUIET_SECONDS:
            self.failures = 0  # trouble after a quiet spell backs off from the start again
        self.health.started = False
        self.metrics.rebuilds.labels(self.name, type(error).__name__).inc()
        await self.stop_clients()
        await stop_quietly(self.producer, settings.kafka.call_timeout_seconds)
        while not self.stop.is_set():
            self.failures += 1
            delay = min(
                settings.rebuild_backoff_max_seconds,
                settings.rebuild_backoff_seconds * 2 ** (self.failures - 1),
            )
            log.warning(
                "worker_rebuilding", error=repr(error), attempt=self.failures, delay_s=delay
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), delay)
            if self.stop.is_set():
                break
            self.producer = make_producer(settings.kafka, self.client_id)
            self.consumer = make_consumer(
                settings.kafka, self.client_id, settings.group_for(self.name)
            )
            try:
                await bounded(
                    self.producer.start(), settings.kafka.call_timeout_seconds, "producer start"
                )
                for table in tables:
                    await table.stop()
                    table.reset()
                    await table.start(
                        settings.kafka.bootstrap, settings.topic(table.topic), self.client_id
                    )
                self.last_rebuild = time.monotonic()
                return
            except Exception as exc:
                if not is_broker_trouble(exc):
                    raise
                error = exc
                await stop_quietly(self.producer, settings.kafka.call_timeout_seconds)

    async def run_loop(self, loop: Coroutine[Any, Any, None], settings: RuntimeSettings) -> None:
        await run_until_stopped(
            loop, f"{self.name}-loop", self.stop, self.health, settings.shutdown_timeout_seconds
        )

    async def keep_running(
        self,
        make_loop: Callable[[], "ConsumeLoop"],
        on_started: Callable[[], None],
        reset_tables: Sequence[Any] = (),
    ) -> None:
        """Starts the consumer and a loop from ``make_loop``, runs it until the worker is
        asked to stop; after broker trouble, rebuilds the clients (:meth:`rebuild`, reloading
        ``reset_tables``) and starts a new loop on them. A bug propagates."""
        settings = self.settings
        while True:
            loop = make_loop()
            try:
                await bounded(
                    self.consumer.start(), settings.kafka.call_timeout_seconds, "consumer start"
                )
                loop.subscribe()
                await self.start_lag_monitor(settings)
                self.health.started = True
                on_started()
                await self.run_loop(loop.run(self.stop), settings)
                return
            except Exception as exc:
                if not is_broker_trouble(exc) or self.stop.is_set():
                    raise
                trouble = exc
            finally:
                await loop.close()
            await self.rebuild(trouble, reset_tables)
            if self.stop.is_set():
                return


@contextlib.asynccontextmanager
async def worker_run(
    name: str,
    settings: RuntimeSettings,
    *,
    tables: Sequence[Any] = (),
    collectors: Sequence[Collector] = (),
    stop: asyncio.Event | None = None,
    handle_signals: bool = False,
    registry: CollectorRegistry | None = None,
) -> AsyncIterator[WorkerRun]:
    """Signals, logging context, metrics, the HTTP endpoints, the clients and the ``tables``
    (restored before this yields) of a worker; the caller starts its consumer and loop."""
    stop = stop or asyncio.Event()
    if handle_signals:
        running = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            running.add_signal_handler(sig, stop.set)

    structlog.contextvars.bind_contextvars(service=name)
    metrics = WorkerMetrics(name, registry)
    changelogs = [t for t in tables if isinstance(t, ChangelogTable)]
    if changelogs:
        metrics.registry.register(TableCollector(name, changelogs))
    for collector in collectors:
        metrics.registry.register(collector)
    health = Health(stall_after=settings.stall_after_seconds)
    runner, port = await start_http(
        health_app(health, metrics.registry, name), settings.http.host, settings.http.port
    )
    log.info("http_listening", host=settings.http.host, port=port)

    client_id = f"{settings.kafka.client_id}-{name}"
    run = WorkerRun(
        name,
        stop,
        metrics,
        health,
        make_producer(settings.kafka, client_id),
        make_consumer(settings.kafka, client_id, settings.group_for(name)),
        client_id,
        settings,
    )
    try:
        await bounded(run.producer.start(), settings.kafka.call_timeout_seconds, "producer start")
        for table in tables:
            await table.start(settings.kafka.bootstrap, settings.topic(table.topic), client_id)
        yield run
    finally:
        health.stopping = True
        for companion in reversed(run.companions):
            await companion.stop()
        await run.stop_clients()
        for close in run.after_consumer:
            await close()
        for table in tables:
            await table.stop()
        await stop_quietly(run.producer, settings.kafka.call_timeout_seconds)
        await runner.cleanup()
        log.info("worker_stopped")


async def run_worker(
    worker: Worker[Any, Any],
    settings: RuntimeSettings,
    *,
    stop: asyncio.Event | None = None,
    handle_signals: bool = False,
    registry: CollectorRegistry | None = None,
) -> None:
    """Runs ``worker`` until ``stop`` is set (or SIGTERM/SIGINT with ``handle_signals``).

    Broker trouble (the broker down or slow past ``kafka.call_timeout_seconds``, this
    worker's transactions fenced) does not end it: it reports not ready, rebuilds its Kafka
    clients with a backoff and goes on from the committed offsets. A bug ends it non-zero.

    Shutdown: the batch in flight is finished and acknowledged, its offsets committed, the
    consumer leaves its group (so partitions move at once, not after the session timeout) and
    the producer flushes. If that takes longer than ``shutdown_timeout_seconds`` the loop is
    cancelled; uncommitted records are then re-read by the next owner (at-least-once).
    """
    async with worker_run(
        worker.name,
        settings,
        tables=worker.tables,
        collectors=worker.collectors,
        stop=stop,
        handle_signals=handle_signals,
        registry=registry,
    ) as run:
        for companion in worker.companions:
            await companion.start()
            run.companions.append(companion)
        # What exists now (models, gazetteers, restored tables) lives as long as the process:
        # moved out of the collector's generations, full collections stop walking it. Measured
        # on enrich: p99 per article 6.0 ms -> 2.4 ms, mean 1.12 -> 1.03 ms.
        pool = None
        if worker.prepare is not None and settings.step_processes > 0:
            pool = StepPool(worker.prepare, settings.step_processes)
            await pool.start()
        gc.freeze()
        exactly_once = settings.processing_guarantee == "exactly_once"
        try:
            await run.keep_running(
                lambda: _stage_loop(worker, settings, run, pool),
                lambda: log.info(
                    "worker_started",
                    source=settings.topic(worker.source.name),
                    sink=settings.topic(worker.sink.name),
                    group=settings.group_for(worker.name),
                    guarantee=settings.processing_guarantee,
                    step_processes=pool.processes if pool else 0,
                ),
                # exactly_once: the local copies may hold writes of an aborted transaction.
                [t for t in worker.tables if hasattr(t, "reset")] if exactly_once else (),
            )
        finally:
            if pool is not None:
                await asyncio.to_thread(pool.close)


def _stage_loop(
    worker: Worker[Any, Any], settings: RuntimeSettings, run: WorkerRun, pool: StepPool | None
) -> StageLoop[Any, Any]:
    if settings.processing_guarantee == "exactly_once":
        group = settings.group_for(worker.name)
        return TransactionalStageLoop(
            worker,
            settings,
            run.consumer,
            PartitionProducers(settings, run.client_id, group),
            run.metrics,
            run.health,
            group,
            pool=pool,
        )
    return StageLoop(
        worker, settings, run.consumer, run.producer, run.metrics, run.health, pool=pool
    )
