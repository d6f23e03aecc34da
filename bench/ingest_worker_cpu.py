"""CPU time per raw event of one real ingest worker draining the bench backlog, start-up
excluded: the robust figure on a shared machine, where events/s swing with the neighbours.

    NEWSWIRE_BENCH_BOOTSTRAP=host:port python -m bench.ingest_worker_cpu [--events 4000]
        [--py-spy out.txt]

Starts one ``newswire ingest`` process on a fresh topic prefix, waits until it owns every
partition, then produces the backlog (bench/corpus.py ``mixed``) and reads the worker's CPU
time (/proc) before and after it wrote every article. ``--py-spy`` samples the worker while
it works (collapsed stacks, for a flame graph), if py-spy is installed.
"""

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import time

from bench.common import cpu_seconds, process_tree, records_of
from bench.corpus import mixed
from bench.ingest import PARTITIONS, articles_expected, prepare, settled
from services.runtime.io import produce_raw
from services.runtime.local import REPO_ROOT, WorkerProcess
from services.runtime.settings import KafkaSettings


def _machine_busy() -> float:
    """CPU seconds all cores spent not idle since boot (/proc/stat)."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


async def run(bootstrap: str, events: int, spy_out: str | None, step_processes: int = 0) -> None:
    backlog = mixed(events, "backlog")
    expected = articles_expected(backlog)
    prefix = await prepare(bootstrap, [])
    worker = WorkerProcess(
        "ingest",
        bootstrap,
        prefix,
        REPO_ROOT / ".cache/bench/ingest-worker-cpu.log",
        env={"NEWSWIRE_LOG_LEVEL": "warning", "NEWSWIRE_STEP_PROCESSES": str(step_processes)},
    )
    worker.start()
    assert worker.process is not None
    try:
        await settled([worker], PARTITIONS)
        tree = process_tree(worker.process.pid)
        before = {pid: cpu_seconds(pid) for pid in tree}
        spy = None
        if spy_out:
            spy_bin = shutil.which("py-spy") or str(REPO_ROOT / ".venv/bin/py-spy")
            pid = str(worker.process.pid)
            spy = await asyncio.create_subprocess_exec(
                *(spy_bin, "record", "-r", "200", "--format", "raw", "--native"),
                *("-o", spy_out, "--pid", pid),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            await asyncio.sleep(1)  # attached before the first record
        started = time.monotonic()
        busy_before = _machine_busy()
        await produce_raw(KafkaSettings(bootstrap=bootstrap), prefix + "news.raw", backlog)
        out = await records_of(bootstrap, prefix + "news.articles", expected, 300)
        spent = {pid: cpu_seconds(pid) - before[pid] for pid in tree}
        cpu = sum(spent.values())
        wall = time.monotonic() - started
        machine = (_machine_busy() - busy_before) / wall
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            await spy.wait()
    finally:
        worker.stop()
    print(
        f"{len(backlog)} events → {len(out)} articles; worker CPU "
        f"{1000 * cpu / len(backlog):.3f} ms/event (start-up excluded); wall {wall:.1f} s"
    )
    print(f"  the machine was busy {machine:.2f} cores on average (every process)")
    if len(spent) > 1:
        # The worker's own process first, then its step-pool children (and the
        # multiprocessing resource tracker).
        per = ", ".join(f"{1000 * spent[pid] / len(backlog):.3f}" for pid in tree)
        print(f"  per process (worker first), ms/event: {per}")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=4000)
    p.add_argument("--py-spy", dest="spy", help="write py-spy's collapsed stacks here")
    p.add_argument(
        "--step-processes", type=int, default=0, help="NEWSWIRE_STEP_PROCESSES of the worker"
    )
    a = p.parse_args()
    bootstrap = os.environ.get("NEWSWIRE_BENCH_BOOTSTRAP")
    if not bootstrap:
        raise SystemExit("NEWSWIRE_BENCH_BOOTSTRAP names the broker to use")
    asyncio.run(run(bootstrap, a.events, a.spy, a.step_processes))
