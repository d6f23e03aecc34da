"""Matching enriched articles against 100,000 subscriptions: the percolator against the loop.

    python -m bench.percolate [--subscriptions 100000]

Subscriptions are generated with a fixed seed in shapes people write: taxonomy topics with a
keyword (5 %), an entity with a topic, a tone or a keyword (20 %), keyword queries of words,
phrases, wildcards, OR-groups and NEAR drawn from the eval set's vocabulary (70 %), a source
with a keyword (4 %), and a few that only filter on sentiment (1 %: checked against every
article). Most are selective, as real alerting subscriptions are; a first version with 30 %
bare topic subscriptions made every article match thousands and measured alert fan-out.
Articles come in two shapes, measured side by side against the same index:

- ``eval``: the labelled eval set's 98 articles, enriched (~91 words each; the vocabulary the
  subscriptions are drawn from);
- ``news``: news-length articles, 400-800 words: the seed fixture (665 words), the four news
  samples joined into one, and the eval articles joined (three seeded shuffles, each packed
  into articles of a seeded random length in that range). Joined articles span several
  stories, so they carry more topics and entities than one story would: pessimistic.

Prints index build time and memory and, per shape, per-article p50/p99 and articles/s through
the index, and the naive loop's time on a few articles in the same run with the speed-up; also
the rate in CPU time (wall clock is noisy on a shared machine: the load average is recorded),
and ``match()``'s time with the Alert objects built, as the worker does. Writes
bench/results/percolate.json.
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
from services.query.article import enriched_document
from services.query.text import words
from services.runtime.local import REPO_ROOT

RESULTS = REPO_ROOT / "bench" / "results"
SAMPLES = REPO_ROOT / "services" / "samples"
SEED_ARTICLE = SAMPLES / "raw-article-ukraine-guarantees.txt"
NEWS_SAMPLES = (
    "ecb-holds-rates.txt",
    "pacific-security-pact.txt",
    "spain-heatwave.txt",
    "ukraine-grain-exports.txt",
)
NEWS_TARGET = (400, 700)


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


def _joined(parts: list[dict[str, Any]], source: str) -> RawArticleEvent:
    """One article of several: the first one's title and summary, every body and context."""
    payload = {
        "title": parts[0]["title"],
        "summary": parts[0].get("summary") or [],
        "body": "\n\n".join(p["body"] for p in parts),
        "context": "\n\n".join(p["context"] for p in parts if p.get("context")),
    }
    return RawArticleEvent(
        source=source,
        fetched_at=FETCHED,
        content_type="application/json",
        payload=json.dumps(payload),
    )


def news_articles(seed: int = 13, passes: int = 3) -> list[EnrichedArticle]:
    """News-length articles (400-800 words): the seed fixture, the four news samples joined,
    and the eval articles joined in ``passes`` seeded shuffles."""
    taxonomy, gazetteer = load_taxonomy(DEFAULT_TAXONOMY), load_gazetteer(DEFAULT_GAZETTEER)
    rng = random.Random(seed)
    sources = ["wire", "daily", "times"]
    seed_event = RawArticleEvent(
        source=rng.choice(sources),
        fetched_at=FETCHED,
        content_type="text/plain",
        payload=SEED_ARTICLE.read_text(encoding="utf-8"),
    )
    events = [seed_event]
    samples = [
        single_article(
            RawArticleEvent(
                source="samples",
                fetched_at=FETCHED,
                content_type="text/plain",
                payload=(SAMPLES / name).read_text(encoding="utf-8"),
            )
        )
        for name in NEWS_SAMPLES
    ]
    events.append(
        _joined(
            [
                {"title": a.title, "summary": a.summary, "body": a.body, "context": a.context}
                for a in samples
            ],
            rng.choice(sources),
        )
    )
    items = yaml.safe_load(EVAL_SET.read_text())["articles"]
    # Eval articles are 67-108 words: packing up to a target of 400-700 ends at 400-800.
    for _ in range(passes):
        order = items[:]
        rng.shuffle(order)
        parts: list[dict[str, Any]] = []
        length, target = 0, rng.randint(*NEWS_TARGET)
        for item in order:
            parts.append(item)
            length += len(words(f"{item['title']} {item['body']}"))
            if length >= target:
                events.append(_joined(parts, rng.choice(sources)))
                parts, length, target = [], 0, rng.randint(*NEWS_TARGET)
        # A short remainder is dropped: it is not news length.
    return [enrich(single_article(e), taxonomy, gazetteer) for e in events]


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


def measure(
    index: SubscriptionIndex,
    subs: list[Subscription],
    docs: list[EnrichedArticle],
    rounds: int,
    naive_articles: int,
) -> dict[str, Any]:
    """One shape's figures: ``docs`` × ``rounds`` through the index, then the naive loop."""
    for d in docs[:3]:
        index.matching(d)  # warm the compiled-query cache
    times: list[float] = []
    matches = 0
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
    for d in docs[:naive_articles]:
        t = time.perf_counter()
        slow = match_naive(d, subs, datetime.now(UTC))
        naive.append((time.perf_counter() - t) * 1000)
        fast = index.match(d, datetime.now(UTC))
        assert {x.alert_id for x in slow} == {x.alert_id for x in fast}, "percolator missed"
    res: dict[str, Any] = {
        "articles": len(docs),
        "rounds": rounds,
        "words_per_article": sum(len(enriched_document(d).words) for d in docs) / len(docs),
        "articles_per_s": len(times) / elapsed,
        "cpu_articles_per_s": len(times) / cpu,
        "p50_ms": percentile(times, 50),
        "p99_ms": percentile(times, 99),
        "matches_per_article": matches / len(times),
        "match_with_alerts_ms_per_article": with_alerts,
        "naive_ms_per_article": sum(naive) / len(naive),
        "naive_articles": len(naive),
        "load_average_1min": [load_before, os.getloadavg()[0]],
    }
    res["speedup"] = res["naive_ms_per_article"] / (elapsed * 1000 / len(times))
    return res


def _table(shapes: dict[str, dict[str, Any]]) -> str:
    rows = [
        ("articles × rounds", lambda r: f"{r['articles']} × {r['rounds']}"),
        ("words per article", lambda r: f"{r['words_per_article']:.0f}"),
        ("articles/s, wall (target 2,000)", lambda r: f"{r['articles_per_s']:,.0f}"),
        ("articles/s, CPU time", lambda r: f"{r['cpu_articles_per_s']:,.0f}"),
        ("p50 ms", lambda r: f"{r['p50_ms']:.2f}"),
        ("p99 ms (target 2)", lambda r: f"{r['p99_ms']:.2f}"),
        ("matches per article", lambda r: f"{r['matches_per_article']:.1f}"),
        ("match() with Alerts, ms", lambda r: f"{r['match_with_alerts_ms_per_article']:.2f}"),
        ("naive loop, ms/article", lambda r: f"{r['naive_ms_per_article']:,.0f}"),
        ("speed-up (wall)", lambda r: f"{r['speedup']:,.0f}×"),
        ("1-min load before → after", lambda r: "{:.2f} → {:.2f}".format(*r["load_average_1min"])),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"{'':<{width}}" + "".join(f"{name:>16}" for name in shapes)]
    for name, cell in rows:
        lines.append(f"{name:<{width}}" + "".join(f"{cell(r):>16}" for r in shapes.values()))
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--subscriptions", type=int, default=100_000)
    p.add_argument("--naive-articles", type=int, default=5)
    p.add_argument("--naive-news-articles", type=int, default=3)
    a = p.parse_args()
    docs = articles()
    news = news_articles()
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
    # Rounds: ~500 timed articles per shape, for a p99 over more than a handful.
    shapes = {
        "eval": measure(index, subs, docs, 5, a.naive_articles),
        "news": measure(index, subs, news, 12, a.naive_news_articles),
    }
    res: dict[str, Any] = {
        "subscriptions": len(subs),
        "subscriptions_created_s": created,
        "index_build_s": build,
        "index_memory_mib": index_mib,
        "cores": os.cpu_count(),
        "shapes": shapes,
    }
    print(
        f"{len(subs):,} subscriptions: parsed and validated in {created:.1f} s; index built in "
        f"{build:.2f} s (target 10 s), {index_mib:.0f} MiB ({os.cpu_count()} cores)"
    )
    print(_table(shapes))
    RESULTS.mkdir(parents=True, exist_ok=True)
    res["measured_at"] = datetime.now(UTC).isoformat()
    (RESULTS / "percolate.json").write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
