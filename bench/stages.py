"""Throughput and latency of a newswire stage next to a bare aiokafka pass-through, same run.

    python -m bench.stages [--events 5000] [--paced-rate 200 --paced-seconds 5]

1. Starts the local broker (deploy/local/kafka, temporary state) unless
   NEWSWIRE_BENCH_BOOTSTRAP names one.
2. Pre-loads `news.raw` with --events raw articles (seed-sized, each unique).
3. Backlog phase: the pass-through (bench/passthrough.py, a child process) and the ingest
   worker (a `newswire ingest` process) each drain the same backlog with their own consumer
   group. Rate = records / (last output timestamp − first output timestamp), read from the
   broker for both, so both are measured the same way.
4. Paced phase: both keep running while events arrive at --paced-rate per second; latency is
   each output's broker timestamp minus its input's.
5. Pure phase: ingest's parse + normalise alone, in this process, on one core.

Prints a table with ratios to the pass-through and writes bench/results/stages.json.
"""

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.common import cpu_seconds, peak_rss_mb, summary
from schemas.raw import RawArticleEvent
from services.demo import SAMPLES
from services.ingest.normalize import single_article
from services.runtime.io import produce_raw, raw_key
from services.runtime.kafka import ensure_newswire_topics, ensure_topics
from services.runtime.local import REPO_ROOT, WorkerProcess, start_broker
from services.runtime.settings import KafkaSettings

RESULTS = REPO_ROOT / "bench" / "results"


def corpus(n: int, tag: str) -> list[RawArticleEvent]:
    """Unique seed-sized articles: the seed's text with a numbered title and first line."""
    seed = (SAMPLES / "raw-article-ukraine-guarantees.txt").read_text().strip().splitlines()
    now = datetime.now(UTC)
    events = []
    for i in range(n):
        lines = [f"{seed[0]} ({tag} #{i})", seed[1].replace("23:24", f"{i % 24:02d}:{i % 60:02d}")]
        lines += seed[2:]
        events.append(
            RawArticleEvent(source=f"bench-{tag}", fetched_at=now, payload="\n".join(lines))
        )
    return events


async def output_timestamps(bootstrap: str, topic: str, expect: int, timeout: float) -> list[Any]:
    """Every record of `topic`, once it holds `expect` of them (or the timeout passes)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    records: list[Any] = []
    try:
        await consumer._client.force_metadata_update()
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        deadline = time.monotonic() + timeout
        while len(records) < expect and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for rs in batch.values():
                records.extend(rs)
    finally:
        await consumer.stop()
    return records


def rate(records: list[Any]) -> float:
    stamps = sorted(r.timestamp for r in records)
    span = (stamps[-1] - stamps[0]) / 1000 if len(stamps) > 1 else 0.0
    return (len(stamps) - 1) / span if span > 0 else float("nan")


async def paced_produce(
    kafka: KafkaSettings, topic: str, events: list[RawArticleEvent], per_second: float
) -> None:
    chunk = max(1, int(per_second / 20))  # 20 sends a second, each a small burst
    for start in range(0, len(events), chunk):
        t0 = time.monotonic()
        await produce_raw(kafka, topic, events[start : start + chunk])
        await asyncio.sleep(max(0.0, chunk / per_second - (time.monotonic() - t0)))


def latencies(inputs: dict[bytes, int], outputs: list[Any], key_of_output: Any) -> list[float]:
    out = []
    for r in outputs:
        key = key_of_output(r)
        if key in inputs:
            out.append(r.timestamp - inputs[key])
    return out


async def main(events: int, paced_rate: float, paced_seconds: float) -> dict[str, Any]:
    state: Path | None = None
    bootstrap = os.environ.get("NEWSWIRE_BENCH_BOOTSTRAP")
    broker = None
    if not bootstrap:
        state = Path(tempfile.mkdtemp(prefix="newswire-bench-kafka-"))
        broker = start_broker(state)
        bootstrap = broker.bootstrap
    kafka = KafkaSettings(bootstrap=bootstrap)
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    raw_topic, articles_topic = prefix + "news.raw", prefix + "news.articles"
    pass_topic = prefix + "bench.passthrough"
    await ensure_newswire_topics(bootstrap, prefix, 3)
    await ensure_topics(bootstrap, [pass_topic], 3)

    backlog = corpus(events, "backlog")
    await produce_raw(kafka, raw_topic, backlog)
    print(
        f"broker {bootstrap}; {events} raw articles pre-loaded "
        f"({sum(len(e.payload) for e in backlog) / events / 1024:.1f} KiB each)",
        flush=True,
    )

    paced = corpus(int(paced_rate * paced_seconds), "paced")
    expect_total = events + len(paced)
    results: dict[str, Any] = {
        "events": events,
        "paced_rate": paced_rate,
        "paced_events": len(paced),
    }
    try:
        # Backlog phase, pass-through first (alone on the machine), then ingest.
        child = subprocess.Popen(  # noqa: ASYNC220 (returns at once; the child runs alongside)
            [
                sys.executable,
                "-m",
                "bench.passthrough",
                "--bootstrap",
                bootstrap,
                "--source",
                raw_topic,
                "--sink",
                pass_topic,
                "--expect",
                str(expect_total),
                "--group",
                prefix + "passthrough",
            ],
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO_ROOT,
        )
        pass_out = await output_timestamps(bootstrap, pass_topic, events, 300)
        pass_cpu_backlog = cpu_seconds(child.pid)

        worker = WorkerProcess(
            "ingest",
            bootstrap,
            prefix,
            REPO_ROOT / ".cache" / "bench" / "ingest.log",
            env={"NEWSWIRE_LOG_LEVEL": "warning"},
        )
        worker.start()
        ingest_out = await output_timestamps(bootstrap, articles_topic, events, 300)
        ingest_cpu_backlog = cpu_seconds(worker.process.pid)  # type: ignore[union-attr]

        # Paced phase: both running, events trickle in.
        sent_at: dict[bytes, int] = {}
        t0 = time.time()
        await paced_produce(kafka, raw_topic, paced, paced_rate)
        print(f"paced: {len(paced)} events in {time.time() - t0:.1f}s", flush=True)
        pass_all = await output_timestamps(bootstrap, pass_topic, expect_total, 120)
        ingest_all = await output_timestamps(bootstrap, articles_topic, expect_total, 120)
        raw_all = await output_timestamps(bootstrap, raw_topic, expect_total, 60)
        for r in raw_all:
            sent_at[r.key] = r.timestamp
        zone = ZoneInfo("UTC")
        article_to_raw = {to_article(e, zone).article_id.encode(): raw_key(e) for e in paced}
        raw_stamp_by_article = {a: sent_at[k] for a, k in article_to_raw.items() if k in sent_at}
        paced_keys = {raw_key(e) for e in paced}
        pass_lat = latencies(
            {k: v for k, v in sent_at.items() if k in paced_keys}, pass_all, lambda r: r.key
        )
        ingest_lat = latencies(raw_stamp_by_article, ingest_all, lambda r: r.key)

        ingest_rss = peak_rss_mb(worker.process.pid)  # type: ignore[union-attr]
        worker.stop()
        pass_stdout, _ = child.communicate(timeout=60)
        pass_report = json.loads(pass_stdout.strip().splitlines()[-1])

        # Pure phase: parse + normalise only, this process, one core.
        t = time.perf_counter()
        for e in backlog:
            to_article(e, zone)
        pure_rate = len(backlog) / (time.perf_counter() - t)

        results["passthrough"] = {
            "events_per_s": rate(pass_out[:events]),
            "latency_ms": summary(pass_lat),
            "cpu_s_per_1k": 1000 * pass_cpu_backlog / events,
            "peak_rss_mb": pass_report["peak_rss_mb"],
        }
        results["ingest"] = {
            "events_per_s": rate(ingest_out[:events]),
            "latency_ms": summary(ingest_lat),
            "cpu_s_per_1k": 1000 * ingest_cpu_backlog / events,
            "peak_rss_mb": ingest_rss,
            "parse_normalize_only_per_s": pure_rate,
        }
        base = results["passthrough"]["events_per_s"]
        results["ingest"]["ratio_to_passthrough"] = results["ingest"]["events_per_s"] / base
    finally:
        if broker is not None:
            broker.stop()
        if state is not None:
            shutil.rmtree(state, ignore_errors=True)
    return results


def report(r: dict[str, Any]) -> None:
    print(
        f"\n{'stage':<12} {'events/s':>9} {'ratio':>6} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'CPU s/1k':>8} {'peak RSS MiB':>12}"
    )
    base = r["passthrough"]["events_per_s"]
    for name in ("passthrough", "ingest"):
        s = r[name]
        print(
            f"{name:<12} {s['events_per_s']:>9.0f} {s['events_per_s'] / base:>6.2f} "
            f"{s['latency_ms']['p50']:>7.1f} {s['latency_ms']['p99']:>7.1f} "
            f"{s['cpu_s_per_1k']:>8.2f} {s['peak_rss_mb']:>12.1f}"
        )
    print(
        f"\ningest parse+normalise alone (one core, no Kafka): "
        f"{r['ingest']['parse_normalize_only_per_s']:.0f} articles/s"
    )
    print(
        f"latency: paced at {r['paced_rate']:.0f}/s, {r['paced_events']} events; "
        "broker timestamp of output minus input"
    )


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=5000)
    p.add_argument("--paced-rate", type=float, default=200)
    p.add_argument("--paced-seconds", type=float, default=5)
    a = p.parse_args()
    res = asyncio.run(main(a.events, a.paced_rate, a.paced_seconds))
    report(res)
    RESULTS.mkdir(parents=True, exist_ok=True)
    res["measured_at"] = datetime.now(UTC).isoformat()
    (RESULTS / "stages.json").write_text(json.dumps(res, indent=2) + "\n")
