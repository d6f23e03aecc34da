"""ingest next to a bare aiokafka pass-through of the same bytes, in one run, on one broker.

    python -m bench.ingest [--events 4000] [--paced-rate 200 --paced-seconds 5]

1. Pure phase: parse + normalise alone (this process, one core, no Kafka), per format.
2. Starts the local broker (deploy/local/kafka, temporary state) unless
   NEWSWIRE_BENCH_BOOTSTRAP names one; pre-loads `news.raw` with a mixed corpus
   (bench/corpus.py: text layout, JSON, HTML, RSS; 5 % duplicates).
3. Backlog phase: the pass-through (bench/passthrough.py, its own process) drains the backlog,
   then 1 and 2 ingest workers (`newswire ingest` processes) do; they are started on an empty
   topic and the backlog is produced once their group has settled, so a rebalance is not
   measured. Rates come from the broker
   timestamps of the first and last output records, the same for both; the stage's rate
   counts raw events consumed per second (a feed event is one event, five articles).
4. Paced phase: both run while events arrive at --paced-rate/s; latency is the broker time of
   each output minus its input's.

Prints a table with ratios to the pass-through and writes bench/results/ingest.json.
"""

import argparse
import asyncio
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from bench.common import (
    BenchBroker,
    cpu_seconds,
    passthrough_report,
    peak_rss_mb,
    records_of,
    span_seconds,
    start_passthrough,
    summary,
    tree_cpu_seconds,
    tree_peak_rss_mb,
)
from bench.corpus import MAKERS, mixed
from services.ingest.normalize import NormalizePolicy, normalize
from services.runtime.io import produce_raw, raw_key
from services.runtime.kafka import ensure_newswire_topics, ensure_topics
from services.runtime.local import REPO_ROOT, WorkerProcess
from services.runtime.settings import KafkaSettings

RESULTS = REPO_ROOT / "bench" / "results"


def pure_rates(per_format: int, repeats: int = 3) -> dict[str, float]:
    """Articles per second of parse + normalise (language detection included), per format:
    the median of ``repeats`` passes, so one stall of this shared VM does not decide it."""
    policy = NormalizePolicy()
    normalize(MAKERS["text"](0, "warm"), policy)  # load the language models first
    rates = {}
    for kind, make in MAKERS.items():
        events = [make(i, "pure") for i in range(per_format)]
        passes = []
        for _ in range(repeats):
            started = time.perf_counter()
            articles = sum(len(normalize(e, policy).articles) for e in events)
            passes.append(articles / (time.perf_counter() - started))
        rates[kind] = sorted(passes)[len(passes) // 2]
    return rates


async def paced_produce(kafka: KafkaSettings, topic: str, events: list[Any], rate: float) -> None:
    chunk = max(1, int(rate / 20))
    for start in range(0, len(events), chunk):
        t0 = time.monotonic()
        await produce_raw(kafka, topic, events[start : start + chunk])
        await asyncio.sleep(max(0.0, chunk / rate - (time.monotonic() - t0)))


# Divisible by 1, 2 and 3 workers: with 3 partitions, 2 workers split the work 2:1 and the
# run lasts as long as the busier one.
PARTITIONS = 6


def distinct_events(backlog: list[Any]) -> list[Any]:
    """The backlog without its re-sent copies (same payload)."""
    return list({e.payload: e for e in backlog}.values())


def articles_expected(backlog: list[Any]) -> int:
    """Articles ingest must write for ``backlog``: its copies are dropped as duplicates."""
    no_lang = NormalizePolicy(detect_language=False)
    return sum(len(normalize(e, no_lang).articles) for e in distinct_events(backlog))


async def prepare(bootstrap: str, backlog: list[Any]) -> str:
    """A fresh topic prefix holding the backlog: every measurement starts alike."""
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    await ensure_newswire_topics(bootstrap, prefix, PARTITIONS)
    await ensure_topics(bootstrap, [prefix + "bench.passthrough"], PARTITIONS)
    if backlog:
        await produce_raw(KafkaSettings(bootstrap=bootstrap), prefix + "news.raw", backlog)
    return prefix


async def settled(workers: list[WorkerProcess], partitions: int, timeout: float = 60) -> None:
    """Until every worker is ready and the group has handed out all partitions: a group that
    is still rebalancing would put its join pauses into the throughput figure."""
    for w in workers:
        await w.wait_ready(timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        owned = [await w.metric("newswire_assigned_partitions") for w in workers]
        if sum(owned) == partitions and all(owned):
            return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"group not settled in {timeout}s")


async def paced_latency(
    bootstrap: str,
    prefix: str,
    sink: str,
    paced: list[Any],
    rate: float,
    key_of: dict[bytes, bytes],
) -> list[float]:
    """Sends `paced` at `rate`/s into a running stage; the broker-time latency of each output
    (`key_of`: output key → the raw key it came from)."""
    await paced_produce(KafkaSettings(bootstrap=bootstrap), prefix + "news.raw", paced, rate)
    wanted = {raw_key(e) for e in paced}
    raw = await records_of(bootstrap, prefix + "news.raw", 10**9, 2)
    sent_at = {r.key: r.timestamp for r in raw if r.key in wanted}
    outs: list[Any] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        outs = [r for r in await records_of(bootstrap, sink, 10**9, 2) if r.key in key_of]
        if len(outs) >= len(key_of):
            break
    return [float(r.timestamp - sent_at[key_of[r.key]]) for r in outs if key_of[r.key] in sent_at]


def parse_setups(text: str) -> list[tuple[int, int]]:
    """``"1,2,1p2"`` → [(1, 0), (2, 0), (1, 2)]: worker count, and step-pool processes per
    worker (``p``; services/runtime/parallel.py)."""
    setups = []
    for item in text.split(","):
        workers, _, processes = item.partition("p")
        setups.append((int(workers), int(processes or 0)))
    return setups


def setup_name(workers: int, processes: int) -> str:
    return f"ingest_x{workers}" + (f"_p{processes}" if processes else "")


async def run(
    events: int, paced_rate: float, paced_seconds: float, setups: list[tuple[int, int]]
) -> dict[str, Any]:
    results: dict[str, Any] = {"pure_articles_per_s": pure_rates(300)}
    broker = BenchBroker()
    bootstrap = broker.bootstrap
    try:
        backlog = mixed(events, "backlog")
        paced = mixed(int(paced_rate * paced_seconds), "paced", duplicates=0.0, seed=11)
        no_lang = NormalizePolicy(detect_language=False)
        distinct = distinct_events(backlog)
        expected_articles = articles_expected(backlog)
        kib = sum(len(e.payload) for e in backlog) / len(backlog) / 1024
        print(
            f"broker {bootstrap}; {len(backlog)} raw events per run ({kib:.1f} KiB avg)", flush=True
        )
        results.update(
            events=len(backlog),
            distinct_payloads=len(distinct),
            articles_expected=expected_articles,
        )

        # The ceiling: bare aiokafka consume → produce → commit, its own process.
        prefix = await prepare(bootstrap, backlog)
        sink = prefix + "bench.passthrough"
        child = start_passthrough(
            bootstrap, prefix + "news.raw", sink, len(backlog) + len(paced), prefix + "passthrough"
        )
        out = await records_of(bootstrap, sink, len(backlog), 300)
        cpu = cpu_seconds(child.pid)
        lat = await paced_latency(
            bootstrap, prefix, sink, paced, paced_rate, {raw_key(e): raw_key(e) for e in paced}
        )
        report_line = passthrough_report(child)
        base = len(out) / span_seconds(out)
        results["passthrough"] = {
            "events_per_s": base,
            "latency_ms": summary(lat),
            "cpu_s_per_1k": 1000 * cpu / len(backlog),
            "peak_rss_mb": report_line["peak_rss_mb"],
        }

        # The same ceiling with two processes in one group, as the two-worker stage has: the
        # pass-through waits on the broker for each batch, so a second process adds
        # throughput; comparing two workers against one pass-through would flatter them.
        if any(n > 1 for n, _ in setups):
            prefix = await prepare(bootstrap, [])
            sink = prefix + "bench.passthrough"
            children = [
                start_passthrough(
                    bootstrap, prefix + "news.raw", sink, len(backlog), prefix + "passthrough"
                )
                for _ in range(2)
            ]
            # Both in the group before the backlog, as for the workers (a join is ~3 s).
            await asyncio.sleep(6)
            await produce_raw(KafkaSettings(bootstrap=bootstrap), prefix + "news.raw", backlog)
            out = await records_of(bootstrap, sink, len(backlog), 300)
            cpu = sum(cpu_seconds(c.pid) for c in children)
            rss = max(peak_rss_mb(c.pid) for c in children)
            for c in children:
                c.kill()
                c.wait()
            results["passthrough_x2"] = {
                "events_per_s": len(out) / span_seconds(out),
                "cpu_s_per_1k": 1000 * cpu / len(backlog),
                "peak_rss_mb": rss,
            }

        for n, processes in setups:
            # One worker reads a backlog already in the topic, as the pass-through does: the
            # bench's own producer then does not compete for the two cores while the stage
            # runs. Several workers start first and get the backlog once their group settled
            # (joining with records waiting would rebalance mid-run), as passthrough_x2 does.
            name = setup_name(n, processes)
            preload = n == 1
            prefix = await prepare(bootstrap, backlog if preload else [])
            workers = [
                WorkerProcess(
                    "ingest",
                    bootstrap,
                    prefix,
                    REPO_ROOT / f".cache/bench/{name}-{i}.log",
                    env={
                        "NEWSWIRE_LOG_LEVEL": "warning",
                        "NEWSWIRE_STEP_PROCESSES": str(processes),
                    },
                )
                for i in range(n)
            ]
            for w in workers:
                w.start()
            await settled(workers, PARTITIONS)
            if not preload:
                await produce_raw(KafkaSettings(bootstrap=bootstrap), prefix + "news.raw", backlog)
            sink = prefix + "news.articles"
            out = await records_of(bootstrap, sink, expected_articles, 300)
            # With their step-pool children, if any.
            cpu = sum(tree_cpu_seconds(w.process.pid) for w in workers if w.process)
            stage_lat: list[float] = []
            if n == 1:
                by_article = {
                    a.article_id.encode(): raw_key(e)
                    for e in paced
                    for a in normalize(e, no_lang).articles
                }
                stage_lat = await paced_latency(
                    bootstrap, prefix, sink, paced, paced_rate, by_article
                )
            rss = max(tree_peak_rss_mb(w.process.pid) for w in workers if w.process)
            for w in workers:
                w.stop()
            rate = len(backlog) / span_seconds(out)
            same_width = results.get(f"passthrough_x{n}", results["passthrough"])["events_per_s"]
            results[name] = {
                "workers": n,
                "step_processes": processes,
                "events_per_s": rate,
                "articles_per_s": len(out) / span_seconds(out),
                "articles_out": len(out),
                "ratio_to_passthrough": rate / base,
                # Against the pass-through with as many processes (x1: the same as above).
                "ratio_to_passthrough_same_width": rate / same_width,
                "latency_ms": summary(stage_lat),
                "cpu_s_per_1k": 1000 * cpu / len(backlog),
                "peak_rss_mb": rss,
            }
    finally:
        broker.close()
    return results


def report(r: dict[str, Any]) -> None:
    print("\nparse + normalise alone, one core, articles/s (targets: text/JSON 5000, HTML 500):")
    for kind, rate in r["pure_articles_per_s"].items():
        print(f"  {kind:<5} {rate:>8.0f}")
    print(
        f"\n{r['events']} raw events ({r['distinct_payloads']} distinct) → "
        f"{r['articles_expected']} articles"
    )
    print(
        f"{'stage':<14} {'events/s':>9} {'ratio':>6} {'ratio w':>7} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'CPU s/1k':>8} {'peak RSS MiB':>12}"
    )
    base = r["passthrough"]["events_per_s"]
    nan = float("nan")
    rows = ["passthrough", "passthrough_x2", *(k for k in r if k.startswith("ingest_x"))]
    for name in [n for n in rows if n in r]:
        s = r[name]
        same = s.get("ratio_to_passthrough_same_width", 1.0 if name == "passthrough" else nan)
        lat = s.get("latency_ms", {})
        print(
            f"{name:<14} {s['events_per_s']:>9.0f} {s['events_per_s'] / base:>6.2f} "
            f"{same:>7.2f} {lat.get('p50', nan):>7.1f} {lat.get('p99', nan):>7.1f} "
            f"{s['cpu_s_per_1k']:>8.2f} {s['peak_rss_mb']:>12.1f}"
        )
    print(
        "(ratio: to the one-process pass-through; ratio w: to the pass-through with as many "
        "processes.\n target: ingest >= 0.50 of the pass-through; latency paced at "
        f"{r.get('paced_rate', 0):.0f}/s; CPU s/1k includes each process's start-up)"
    )


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=4000)
    p.add_argument("--paced-rate", type=float, default=200)
    p.add_argument("--paced-seconds", type=float, default=5)
    p.add_argument(
        "--workers",
        default="1,2,1p2",
        help="ingest setups to measure: worker counts, 'NpK' for N workers with K step-pool "
        "processes each",
    )
    a = p.parse_args()
    res = asyncio.run(run(a.events, a.paced_rate, a.paced_seconds, parse_setups(a.workers)))
    res["paced_rate"] = a.paced_rate
    report(res)
    RESULTS.mkdir(parents=True, exist_ok=True)
    res["measured_at"] = datetime.now(UTC).isoformat()
    (RESULTS / "ingest.json").write_text(json.dumps(res, indent=2) + "\n")
