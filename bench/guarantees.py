"""What exactly-once costs: one ingest worker per processing guarantee, same backlog, one run.

    python -m bench.guarantees [--events 3000] [--paced-rate 100 --paced-seconds 5] [--rounds 2]

For each round, and each guarantee in turn (at_least_once, exactly_once), on a fresh topic
prefix: one `newswire ingest` process joins, the mixed backlog (bench/corpus.py) is
produced, and the stage's rate is the backlog over the broker-time span of its outputs; then
events arrive at --paced-rate/s and the latency of each is its output's broker time minus
its input's. Outputs are read with read_committed, as the next stage reads them. Rounds
alternate the order, since this VM's speed drifts. Prints the figures and the exactly-once /
at-least-once ratios and writes bench/results/guarantees.json.
"""

import argparse
import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from bench.common import BenchBroker, cpu_seconds, peak_rss_mb, records_of, span_seconds, summary
from bench.corpus import mixed
from bench.ingest import PARTITIONS, articles_expected, paced_latency, prepare, settled
from services.ingest.normalize import NormalizePolicy, normalize
from services.runtime.io import produce_raw, raw_key
from services.runtime.local import REPO_ROOT, WorkerProcess
from services.runtime.settings import KafkaSettings

RESULTS = REPO_ROOT / "bench" / "results"
GUARANTEES = ("at_least_once", "exactly_once")


async def one_stage(
    bootstrap: str, guarantee: str, backlog: list[Any], paced: list[Any], rate: float
) -> dict[str, Any]:
    no_lang = NormalizePolicy(detect_language=False)
    expected = articles_expected(backlog)
    prefix = await prepare(bootstrap, [])
    worker = WorkerProcess(
        "ingest",
        bootstrap,
        prefix,
        REPO_ROOT / f".cache/bench/guarantees-{guarantee}.log",
        env={"NEWSWIRE_LOG_LEVEL": "warning", "NEWSWIRE_PROCESSING_GUARANTEE": guarantee},
    )
    worker.start()
    try:
        await settled([worker], PARTITIONS)
        await produce_raw(KafkaSettings(bootstrap=bootstrap), prefix + "news.raw", backlog)
        sink = prefix + "news.articles"
        out = await records_of(bootstrap, sink, expected, 300)
        pid = worker.process.pid if worker.process else 0
        cpu = cpu_seconds(pid)
        by_article = {
            a.article_id.encode(): raw_key(e) for e in paced for a in normalize(e, no_lang).articles
        }
        latency = await paced_latency(bootstrap, prefix, sink, paced, rate, by_article)
        rss = peak_rss_mb(pid)
    finally:
        worker.stop()
    return {
        "events_per_s": len(backlog) / span_seconds(out),
        "articles_out": len(out),
        "articles_expected": expected,
        "cpu_s_per_1k": 1000 * cpu / len(backlog),
        "latency_ms": summary(latency),
        "peak_rss_mb": rss,
    }


async def run(events: int, rate: float, seconds: float, rounds: int) -> dict[str, Any]:
    broker = BenchBroker()
    results: dict[str, Any] = {"events": events, "rounds": []}
    try:
        backlog = mixed(events, "backlog")
        for r in range(rounds):
            order = GUARANTEES if r % 2 == 0 else tuple(reversed(GUARANTEES))
            this: dict[str, Any] = {}
            for guarantee in order:
                paced = mixed(int(rate * seconds), f"paced-{r}-{guarantee}", duplicates=0.0)
                this[guarantee] = await one_stage(broker.bootstrap, guarantee, backlog, paced, rate)
                print(guarantee, json.dumps(this[guarantee]), flush=True)
            this["ratio_events_per_s"] = (
                this["exactly_once"]["events_per_s"] / this["at_least_once"]["events_per_s"]
            )
            results["rounds"].append(this)
    finally:
        broker.close()
    return results


def report(r: dict[str, Any]) -> None:
    print(f"\none ingest worker, {r['events']} raw events, {PARTITIONS} partitions")
    print(f"{'round':>5} {'guarantee':<14} {'events/s':>9} {'cpu s/1k':>9} {'p50 ms':>7}", end="")
    print(f" {'p99 ms':>7} {'rss MB':>7} {'out/expected':>13}")
    for i, rnd in enumerate(r["rounds"]):
        for g in GUARANTEES:
            f = rnd[g]
            lat = f["latency_ms"]
            print(
                f"{i:>5} {g:<14} {f['events_per_s']:>9.0f} {f['cpu_s_per_1k']:>9.2f}"
                f" {lat.get('p50', float('nan')):>7.1f} {lat.get('p99', float('nan')):>7.1f}"
                f" {f['peak_rss_mb']:>7.0f} {f['articles_out']:>6}/{f['articles_expected']:<6}"
            )
        print(f"{i:>5} exactly_once / at_least_once events/s: {rnd['ratio_events_per_s']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--paced-rate", type=float, default=100)
    parser.add_argument("--paced-seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    results = asyncio.run(run(args.events, args.paced_rate, args.paced_seconds, args.rounds))
    results["measured_at"] = datetime.now(UTC).isoformat()
    report(results)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "guarantees.json").write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
