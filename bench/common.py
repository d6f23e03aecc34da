"""Helpers shared by the benchmark scripts."""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer

from services.runtime.kafka import assign_all
from services.runtime.local import REPO_ROOT, LocalBroker, start_broker


def peak_rss_mb(pid: int | str = "self") -> float:
    """Peak resident set size (VmHWM) in MiB of a running process, this one by default.

    Not getrusage's ru_maxrss: Linux keeps that across exec, so a child started from a big
    parent would report the parent's peak.
    """
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process, from /proc/<pid>/stat."""
    import os

    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def process_tree(pid: int) -> list[int]:
    """``pid`` and its live descendants (a worker's step-pool children), from /proc."""
    import os

    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
        parents.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(parents.get(current, []))
    return tree


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of ``pid`` and its live descendants."""
    return sum(cpu_seconds(p) for p in process_tree(pid))


def tree_peak_rss_mb(pid: int) -> float:
    """The sum of the peak RSS of ``pid`` and its live descendants (an upper bound: shared
    pages count in each)."""
    return sum(peak_rss_mb(p) for p in process_tree(pid))


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(values: Sequence[float]) -> dict[str, float]:
    return {
        "p50": percentile(values, 50),
        "p99": percentile(values, 99),
        "mean": statistics.fmean(values) if values else float("nan"),
    }


async def records_of(bootstrap: str, topic: str, expect: int, timeout: float) -> list[Any]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    records: list[Any] = []
    try:
        tps = await assign_all(consumer, topic)
        await consumer.seek_to_beginning(*tps)
        deadline = time.monotonic() + timeout
        while len(records) < expect and time.monotonic() < deadline:
            for rs in (await consumer.getmany(timeout_ms=200)).values():
                records.extend(rs)
    finally:
        await consumer.stop()
    return records


def span_seconds(records: list[Any]) -> float:
    stamps = [r.timestamp for r in records]
    return max(1e-3, float(max(stamps) - min(stamps)) / 1000)


def start_passthrough(
    bootstrap: str, source: str, sink: str, expect: int, group: str
) -> "subprocess.Popen[str]":
    """bench/passthrough.py as its own process (its RSS and CPU are then its own)."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.passthrough",
            "--bootstrap",
            bootstrap,
            "--source",
            source,
            "--sink",
            sink,
            "--expect",
            str(expect),
            "--group",
            group,
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
    )


def passthrough_report(child: "subprocess.Popen[str]") -> dict[str, Any]:
    """The JSON line the pass-through prints when it has forwarded everything."""
    out, _ = child.communicate(timeout=60)
    report: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return report


class BenchBroker:
    """The broker a benchmark uses: NEWSWIRE_BENCH_BOOTSTRAP if set, else a local one started
    in a temporary state directory and removed by close()."""

    def __init__(self) -> None:
        self._broker: LocalBroker | None = None
        self._state: Path | None = None
        given = os.environ.get("NEWSWIRE_BENCH_BOOTSTRAP")
        if given:
            self.bootstrap = given
            return
        self._state = Path(tempfile.mkdtemp(prefix="newswire-bench-kafka-"))
        self._broker = start_broker(self._state)
        self.bootstrap = self._broker.bootstrap

    def close(self) -> None:
        if self._broker is not None:
            self._broker.stop()
        if self._state is not None:
            shutil.rmtree(self._state, ignore_errors=True)
