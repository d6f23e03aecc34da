"""The CPU-heavy, pure first half of a step, run on a whole batch in worker processes.

One Python process runs one core's worth of Python. A stage whose step is mostly pure CPU
(ingest: HTML extraction and language detection are ~60 % of its worker) can split that
half off, as arroyo's ``RunTaskWithMultiprocessing`` does: the stage loop hands each
partition's records to a :class:`StepPool`, which runs the :class:`Prepare` function on
them in ``processes`` child processes, in chunks, and returns the results in record order.
The step then runs in the loop's process, in partition order as before, with its record's
result in ``ctx.prepared``; state (the dedup table), outputs, offsets and commits stay
where they were, so the delivery guarantee does not change.

The prepare function must be pure and importable by name (it is pickled to the children):
it takes a record's value and returns something picklable. Bad data is a returned value,
not a raise: an exception raised in a child is a bug and stops the loop, as in the step.
Without a pool (``step_processes = 0``), :func:`~services.runtime.worker.process_record`
calls the same function in the loop's process, so both paths run the same code.

Records the runtime will refuse unread (over ``max_record_bytes``) are not sent to the
children. A child that dies (killed, out of memory) breaks the pool: the batch's map raises,
the worker stops non-zero and its uncommitted records are read again by the next owner.
"""

import asyncio
import multiprocessing
import os
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import structlog

P = TypeVar("P")

log = structlog.get_logger("newswire.runtime")

# Records per task: small enough that the children share a batch evenly, large enough that
# a task's pickling and queue round trip (~0.1 ms) is spread over many records.
CHUNK_RECORDS = 32


@dataclass(frozen=True)
class Prepare(Generic[P]):
    """``function(value, *args)``: the pure first half of a step. ``function`` is a
    module-level function and ``args`` picklable (a policy, limits), so the pair can be sent
    to a child process once per chunk. ``warm``: a typical value each child prepares once at
    start, loading its models before the first batch."""

    function: Callable[..., P]
    args: tuple[Any, ...] = ()
    warm: bytes | None = None

    def __call__(self, value: bytes | None) -> P:
        return self.function(value, *self.args)


def _run_chunk(prepare: Prepare[P], values: Sequence[bytes | None]) -> list[P]:
    return [prepare(value) for value in values]


def _child_start() -> None:
    """Ctrl-C in a terminal signals the whole process group: the children leave stopping to
    the worker, which finishes its batch (their results included) and then shuts them down."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _warm(prepare: Prepare[Any]) -> int:
    """Runs once in each child at start: imports, models and caches loaded before records
    arrive, so the first batch does not pay for them."""
    prepare(prepare.warm)
    return os.getpid()


class StepPool:
    """``processes`` children running a :class:`Prepare` on batches of record values."""

    def __init__(self, prepare: Prepare[Any], processes: int) -> None:
        if processes < 1:
            raise ValueError("a step pool needs at least one process")
        self.prepare = prepare
        self.processes = processes
        # spawn, not fork: the parent runs an event loop and Kafka clients with open sockets;
        # a forked child would inherit them. Children import what the function needs.
        self._executor = ProcessPoolExecutor(
            max_workers=processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_child_start,
        )

    async def start(self) -> None:
        """Starts every child and warms it (the executor would otherwise start them lazily,
        on the first batch)."""
        running = asyncio.get_running_loop()
        pids = await asyncio.gather(
            *(
                running.run_in_executor(self._executor, _warm, self.prepare)
                for _ in range(self.processes)
            )
        )
        log.info("step_pool_started", processes=self.processes, pids=sorted(set(pids)))

    async def map(self, values: Sequence[bytes | None]) -> list[Any]:
        """``prepare(value)`` for each value, in order, computed by the children."""
        if not values:
            return []
        running = asyncio.get_running_loop()
        size = max(1, min(CHUNK_RECORDS, -(-len(values) // self.processes)))
        chunks = [values[i : i + size] for i in range(0, len(values), size)]
        results = await asyncio.gather(
            *(
                running.run_in_executor(self._executor, _run_chunk, self.prepare, chunk)
                for chunk in chunks
            )
        )
        return [item for chunk in results for item in chunk]

    def child_pids(self) -> list[int]:
        """The children's process ids (benchmarks add their CPU time and memory)."""
        processes = getattr(self._executor, "_processes", None) or {}
        return sorted(processes)

    def close(self) -> None:
        """Stops the children; work not started is cancelled."""
        self._executor.shutdown(wait=True, cancel_futures=True)
