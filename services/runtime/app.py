"""Running a worker: clients, HTTP endpoints, signals and an orderly shutdown."""

import asyncio
import contextlib
import gc
import signal
from collections.abc import Coroutine
from typing import Any

import structlog
from prometheus_client import CollectorRegistry

from services.runtime.health import Health, health_app, start_http
from services.runtime.kafka import make_consumer, make_producer
from services.runtime.lag import LagMonitor
from services.runtime.loop import StageLoop
from services.runtime.metrics import WorkerMetrics
from services.runtime.settings import RuntimeSettings
from services.runtime.worker import Companion, Worker

log = structlog.get_logger("newswire.runtime")


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


async def run_worker(
    worker: Worker[Any, Any],
    settings: RuntimeSettings,
    *,
    stop: asyncio.Event | None = None,
    handle_signals: bool = False,
    registry: CollectorRegistry | None = None,
) -> None:
    """Runs ``worker`` until ``stop`` is set (or SIGTERM/SIGINT with ``handle_signals``).

    Shutdown: the batch in flight is finished and acknowledged, its offsets committed, the
    consumer leaves its group (so partitions move at once, not after the session timeout) and
    the producer flushes. If that takes longer than ``shutdown_timeout_seconds`` the loop is
    cancelled; uncommitted records are then re-read by the next owner (at-least-once).
    """
    stop = stop or asyncio.Event()
    if handle_signals:
        running = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            running.add_signal_handler(sig, stop.set)

    structlog.contextvars.bind_contextvars(service=worker.name)
    metrics = WorkerMetrics(worker.name, registry)
    for collector in worker.collectors:
        metrics.registry.register(collector)
    health = Health(stall_after=settings.stall_after_seconds)
    runner, port = await start_http(
        health_app(health, metrics.registry, worker.name), settings.http.host, settings.http.port
    )
    log.info("http_listening", host=settings.http.host, port=port)

    client_id = f"{settings.kafka.client_id}-{worker.name}"
    producer = make_producer(settings.kafka, client_id)
    consumer = make_consumer(settings.kafka, client_id, settings.group_for(worker.name))
    tables = list(worker.tables)
    companions: list[Companion] = []
    try:
        await producer.start()
        for table in tables:
            await table.start(settings.kafka.bootstrap, settings.topic(table.topic), client_id)
        for companion in worker.companions:
            await companion.start()
            companions.append(companion)
        await consumer.start()
        stage = StageLoop(worker, settings, consumer, producer, metrics, health)
        stage.subscribe()
        # Lag and broker reachability for /readyz, beside the loop; stopped first, as the
        # last companion started.
        lag = LagMonitor(consumer, health, metrics, worker.name, settings.lag_probe_seconds)
        await lag.start()
        companions.append(lag)
        # What exists now (models, gazetteers, restored tables) lives as long as the process:
        # moved out of the collector's generations, full collections stop walking it. Measured
        # on enrich: p99 per article 6.0 ms -> 2.4 ms, mean 1.12 -> 1.03 ms.
        gc.freeze()
        health.started = True
        log.info(
            "worker_started",
            source=settings.topic(worker.source.name),
            sink=settings.topic(worker.sink.name),
            group=settings.group_for(worker.name),
        )
        await run_until_stopped(
            stage.run(stop), f"{worker.name}-loop", stop, health, settings.shutdown_timeout_seconds
        )
    finally:
        health.stopping = True
        for companion in reversed(companions):
            await companion.stop()
        await consumer.stop()
        for table in tables:
            await table.stop()
        await producer.stop()
        await runner.cleanup()
        log.info("worker_stopped")
