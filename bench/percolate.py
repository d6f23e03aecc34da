"""Matching enriched articles against 100,000 subscriptions: the percolator against the loop.

    python -m bench.percolate [--subscriptions 100000]

Subscriptions are generated with a fixed seed in shapes people write: taxonomy topics with a
keyword (5 %), an entity with a topic, a tone or a keyword (20 %), keyword queries of words,
phrases, wildcards, OR-groups and NEAR drawn from the eval set's vocabulary (70 %), a source
with a keyword (4 %), and a few that only filter on sentiment (1 %: checked against every
article). Most are selective, as real alerting subscriptions are; a first version with 30 %
bare topic subscriptions made every article match thousands and measured alert fan-out.
Articles are the labelled eval set and the samples, enriched. Prints index build time and
memory, per-article p50/p99 and articles/s through the index, and the naive loop's time on
a few articles in the same run with the speed-up; also the rate in CPU time (wall clock is noisy
on a shared machine: the load average is recorded), and ``match()``'s time with the Alert
objects built, as the worker does. Writes bench/results/percolate.json.
"""

import argparse
import json
import os
import random
import time
from datetime import UTC, datetime
from typing import Any

import yaml

from bench.common import percentile
from bench.enrich_quality import EVAL_SET, FETCHED
from schemas.enriched import EnrichedArticle
from schemas.raw import RawArticleEvent
from services.enrich.entities import load_gazetteer
from services.enrich.keywords import stopwords
from services.enrich.settings import DEFAULT_GAZETTEER, DEFAULT_TAXONOMY
from services.enrich.step import enrich
from services.enrich.taxonomy import load_taxonomy
from services.ingest.normalize import single_article
from services.notify.subscriptions import Subscription, SubscriptionIndex, match_naive
from services.query.text import words
from services.runtime.local import REPO_ROOT

RESULTS = REPO_ROOT / "bench" / "results"


def articles() -> list[EnrichedArticle]:
    taxonomy, gazetteer = load_taxonomy(DEFAULT_TAXONOMY), load_gazetteer(DEFAULT_GAZETTEER)
    out = []
    for item in yaml.safe_load(EVAL_SET.read_text())["articles"]:
        payload = json.dumps(
            {"title": item["title"], "summary": item.get("summary") or [], "body": item["body"]}
        )
        article = single_article(
            RawArticleEvent(
                source=random.choice(["wire", "daily", "times"]),
                fetched_at=FETCHED,
                content_type="application/json",
                payload=payload,
            )
        )
        out.append(enrich(article, taxonomy, gazetteer))
    return out


def subscriptions(n: int, docs: list[EnrichedArticle], seed: int = 7) -> list[Subscription]:
    rng = random.Random(seed)
    stop = stopwords("en")
    vocabulary = sorted(
        {
            w
            for d in docs
            for w in words(f"{d.article.title} {d.article.body}")
            if w not in stop and len(w) > 3 and w.isalpha()
        }
    )
    topics = [t.spec.id for t in load_taxonomy(DEFAULT_TAXONOMY).topics]
    entities = sorted(load_gazetteer(DEFAULT_GAZETTEER).entities)
    out = []

    def w() -> str:
        return rng.choice(vocabulary)

    for i in range(n):
        kind = rng.random()
        fields: dict[str, Any]
        if kind < 0.05:
            fields = {"topics": [rng.choice(topics)], "query": w()}
        elif kind < 0.25:
            extra = rng.choice(
                [f" AND topic:{rng.choice(topics)}", " AND sentiment:<-0.2", f" AND {w()}"]
            )
            fields = {"query": f"entity:{rng.choice(entities)}{extra}"}
        elif kind < 0.95:
            shape = rng.random()
            if shape < 0.35:
                query = f"{w()} {w()}"
            elif shape < 0.55:
                query = f'"{w()} {w()}"'
            elif shape < 0.7:
                query = f"{w()[:5]}* AND {w()}"
            elif shape < 0.85:
                query = f"({w()} OR {w()}) AND {w()} AND NOT {w()}"
            else:
                query = f"{w()} NEAR/{rng.randint(3, 15)} ({w()} OR {w()})"
            fields = {"query": query}
        elif kind < 0.99:
            fields = {
                "query": f"source:{rng.choice(['wire', 'daily', 'times', 'other'])} AND {w()}"
            }
        else:
            fields = {"query": f"sentiment:<{rng.choice(['-0.6', '-0.8'])}"}
        out.append(Subscription(id=f"s{i}", name=f"sub {i}", **fields))
    return out


def _rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--subscriptions", type=int, default=100_000)
    p.add_argument("--naive-articles", type=int, default=5)
    a = p.parse_args()
    docs = articles()
    t0 = time.perf_counter()
    subs = subscriptions(a.subscriptions, docs)
    created = time.perf_counter() - t0
    # Memory as the resident-size growth of this process (tracemalloc would slow the build
    # it measures several-fold).
    rss_before = _rss_mib()
    t0 = time.perf_counter()
    index = SubscriptionIndex(subs)
    build = time.perf_counter() - t0
    index_mib = _rss_mib() - rss_before
    for d in docs[:3]:
        index.matching(d)  # warm the compiled-query cache
    times: list[float] = []
    matches = 0
    rounds = 5
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    cpu_started = time.process_time()
    for _ in range(rounds):
        for d in docs:
            t = time.perf_counter()
            matches += len(index.matching(d))
            times.append((time.perf_counter() - t) * 1000)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    # What the worker pays: the same matches as Alert objects (one round).
    now = datetime.now(UTC)
    t = time.perf_counter()
    for d in docs:
        index.match(d, now)
    with_alerts = (time.perf_counter() - t) * 1000 / len(docs)
    naive: list[float] = []
    for d in docs[: a.naive_articles]:
        t = time.perf_counter()
        slow = match_naive(d, subs, datetime.now(UTC))
        naive.append((time.perf_counter() - t) * 1000)
        fast = index.match(d, datetime.now(UTC))
        assert {x.alert_id for x in slow} == {x.alert_id for x in fast}, "percolator missed"
    res: dict[str, Any] = {
        "subscriptions": len(subs),
        "subscriptions_created_s": created,
        "index_build_s": build,
        "index_memory_mib": index_mib,
        "articles_per_s": len(times) / elapsed,
        "p50_ms": percentile(times, 50),
        "p99_ms": percentile(times, 99),
        "matches_per_article": matches / len(times),
        "naive_ms_per_article": sum(naive) / len(naive),
        "cpu_articles_per_s": len(times) / cpu,
        "match_with_alerts_ms_per_article": with_alerts,
        "load_average_1min": [load_before, os.getloadavg()[0]],
    }
    res["speedup"] = res["naive_ms_per_article"] / (elapsed * 1000 / len(times))
    print(
        f"{len(subs):,} subscriptions: parsed and validated in {created:.1f} s; index built in "
        f"{build:.2f} s (target 10 s), {res['index_memory_mib']:.0f} MiB"
    )
    print(
        f"{len(docs)} articles × {rounds}: {res['articles_per_s']:.0f} articles/s (target 2,000), "
        f"p50 {res['p50_ms']:.2f} ms, p99 {res['p99_ms']:.2f} ms (target 2 ms), "
        f"{res['matches_per_article']:.1f} matching subscriptions/article"
    )
    print(
        f"CPU time: {res['cpu_articles_per_s']:.0f} articles/s; with Alert objects built "
        f"(match()): {with_alerts:.2f} ms/article; 1-min load average "
        f"{load_before:.2f} before, {res['load_average_1min'][1]:.2f} after "
        f"({os.cpu_count()} cores)"
    )
    print(
        f"naive loop over all subscriptions: {res['naive_ms_per_article']:.0f} ms/article; "
        f"speed-up {res['speedup']:.0f}× (same alerts checked on {len(naive)} articles)"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    res["measured_at"] = datetime.now(UTC).isoformat()
    (RESULTS / "percolate.json").write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
