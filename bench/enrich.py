"""enrich next to a bare aiokafka pass-through of the same records, in one run.

    python -m bench.enrich [--articles 3000]

1. Pure phase: enrich alone (entities, sentiment, keyphrases, 28 topics, stories) on one core,
   per article: articles/s, p50 and p99.
2. Kafka phase, on the local broker (deploy/local/kafka, temporary state) unless
   NEWSWIRE_BENCH_BOOTSTRAP names one: `news.articles` is pre-loaded with normalised articles
   (the labelled eval set's 98 articles cycled under new titles, and seed-sized ones); the
   pass-through (bench/passthrough.py), a `newswire enrich` process, and one with a step pool
   of two processes (NEWSWIRE_STEP_PROCESSES=2) each drain it.
   Rates come from the broker timestamps of first and last outputs, the same for both.

Writes bench/results/enrich.json.
"""

import argparse
import asyncio
import gc
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import yaml
from aiokafka import AIOKafkaProducer

from bench.common import (
    BenchBroker,
    cpu_seconds,
    passthrough_report,
    percentile,
    records_of,
    span_seconds,
    start_passthrough,
    tree_cpu_seconds,
    tree_peak_rss_mb,
)
from bench.corpus import text_event
from bench.enrich_quality import EVAL_SET, FETCHED
from schemas.article import Article
from schemas.raw import RawArticleEvent
from services.enrich.entities import load_gazetteer
from services.enrich.settings import DEFAULT_GAZETTEER, DEFAULT_TAXONOMY
from services.enrich.step import enrich
from services.enrich.stories import StoryIndex, story_table
from services.enrich.taxonomy import load_taxonomy
from services.ingest.normalize import single_article
from services.query.article import article_document
from services.runtime.kafka import ensure_newswire_topics, ensure_topics
from services.runtime.local import REPO_ROOT, WorkerProcess

RESULTS = REPO_ROOT / "bench" / "results"


def corpus(n: int) -> list[Article]:
    """Two thirds eval-set articles (short, varied) under fresh titles, one third seed-sized."""
    items = yaml.safe_load(EVAL_SET.read_text())["articles"]
    out = []
    for i in range(n):
        if i % 3 == 2:
            out.append(single_article(text_event(i, "enrich")))
            continue
        item = items[i % len(items)]
        payload = json.dumps(
            {
                "title": f"{item['title']} ({i})",
                "summary": item.get("summary") or [],
                "body": item["body"],
                "url": f"https://bench.example/e/{i}",
            }
        )
        out.append(
            single_article(
                RawArticleEvent(
                    source="bench",
                    fetched_at=FETCHED,
                    content_type="application/json",
                    payload=payload,
                )
            )
        )
    return out


def pure(articles: list[Article]) -> dict[str, float]:
    taxonomy, gazetteer = load_taxonomy(DEFAULT_TAXONOMY), load_gazetteer(DEFAULT_GAZETTEER)
    stories = StoryIndex(story_table("bench", 10**12, lambda: 0))
    enrich(articles[0], taxonomy, gazetteer)  # warm the models
    gc.freeze()  # as run_worker does once a worker is loaded
    times = []
    cpu_started = time.process_time()
    started = time.perf_counter()
    for article in articles:
        t0 = time.perf_counter()
        doc = article_document(article)  # as the worker's step does
        story, _, _ = stories.assign(article, 0, doc)
        enrich(article, taxonomy, gazetteer, story_id=story, document=doc)
        times.append((time.perf_counter() - t0) * 1000)
    elapsed = time.perf_counter() - started
    # CPU time as well: on a shared machine the wall clock also counts other processes' turns.
    cpu = time.process_time() - cpu_started
    # corpus(): every third article is seed-sized (~650 words), the others eval-set ones (~90).
    seed_sized = times[2::3]
    short = [t for i, t in enumerate(times) if i % 3 != 2]
    return {
        "articles_per_s": len(articles) / elapsed,
        "articles_per_cpu_s": len(articles) / cpu,
        "p50_ms": percentile(times, 50),
        "p99_ms": percentile(times, 99),
        "seed_sized_p50_ms": percentile(seed_sized, 50),
        "short_p50_ms": percentile(short, 50),
    }


async def kafka_phase(articles: list[Article]) -> dict[str, Any]:
    broker = BenchBroker()
    bootstrap = broker.bootstrap
    results: dict[str, Any] = {}
    try:

        async def preload() -> str:
            prefix = f"bench{uuid.uuid4().hex[:6]}."
            await ensure_newswire_topics(bootstrap, prefix, 3)
            await ensure_topics(bootstrap, [prefix + "bench.passthrough"], 3)
            producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
            await producer.start()
            for a in articles:
                await producer.send(
                    prefix + "news.articles",
                    a.model_dump_json().encode(),
                    key=a.article_id.encode(),
                )
            await producer.stop()
            return prefix

        prefix = await preload()
        sink = prefix + "bench.passthrough"
        child = start_passthrough(
            bootstrap, prefix + "news.articles", sink, len(articles), prefix + "passthrough"
        )
        out = await records_of(bootstrap, sink, len(articles), 300)
        cpu = cpu_seconds(child.pid)
        report_line = passthrough_report(child)
        base = len(out) / span_seconds(out)
        results["passthrough"] = {
            "events_per_s": base,
            "cpu_s_per_1k": 1000 * cpu / len(out),
            "peak_rss_mb": report_line["peak_rss_mb"],
        }

        # One worker, then one worker with a step pool of two (services/runtime/parallel.py),
        # each on its own copy of the backlog.
        for name, processes in (("enrich", 0), ("enrich_p2", 2)):
            prefix = await preload()
            worker = WorkerProcess(
                "enrich",
                bootstrap,
                prefix,
                REPO_ROOT / f".cache/bench/{name}.log",
                env={"NEWSWIRE_LOG_LEVEL": "warning", "NEWSWIRE_STEP_PROCESSES": str(processes)},
            )
            worker.start()
            assert worker.process is not None
            out = await records_of(bootstrap, prefix + "news.enriched", len(articles), 300)
            cpu = tree_cpu_seconds(worker.process.pid)  # with its step-pool children
            rss = tree_peak_rss_mb(worker.process.pid)
            worker.stop()
            rate = len(out) / span_seconds(out)
            results[name] = {
                "step_processes": processes,
                "events_per_s": rate,
                "ratio_to_passthrough": rate / base,
                "cpu_s_per_1k": 1000 * cpu / len(out),
                "peak_rss_mb": rss,
            }
    finally:
        broker.close()
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--articles", type=int, default=3000)
    a = p.parse_args()
    articles = corpus(a.articles)
    res: dict[str, Any] = {"articles": len(articles), "pure": pure(articles)}
    print(
        f"enrich alone, one core: {res['pure']['articles_per_s']:.0f} articles/s, "
        f"p50 {res['pure']['p50_ms']:.2f} ms, p99 {res['pure']['p99_ms']:.2f} ms (target 1000/s)"
        f"\n  {res['pure']['articles_per_cpu_s']:.0f} articles per CPU second; "
        f"p50 by size: seed-sized {res['pure']['seed_sized_p50_ms']:.2f} ms, "
        f"eval-set {res['pure']['short_p50_ms']:.2f} ms"
    )
    res.update(asyncio.run(kafka_phase(articles)))
    base = res["passthrough"]["events_per_s"]
    print(f"\n{'stage':<12} {'records/s':>9} {'ratio':>6} {'CPU s/1k':>8} {'peak RSS MiB':>12}")
    for name in ("passthrough", "enrich", "enrich_p2"):
        s = res[name]
        print(
            f"{name:<12} {s['events_per_s']:>9.0f} {s['events_per_s'] / base:>6.2f} "
            f"{s['cpu_s_per_1k']:>8.2f} {s['peak_rss_mb']:>12.1f}"
        )
    print(
        "(target: enrich >= 0.50 of the pass-through; enrich_p2: one worker with two step-pool "
        "processes; CPU includes start-up, children included)"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    res["measured_at"] = datetime.now(UTC).isoformat()
    (RESULTS / "enrich.json").write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
