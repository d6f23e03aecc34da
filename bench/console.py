"""The console's first render with 1,000 alerts loaded (issue 11: under 1 s on this machine).

A real ``newswire notify`` process on the bench broker, one key with two subscriptions,
N alerts (default 1,000, in stories of 1 to 4 outlets) produced to news.alerts, then Debian's
headless Chromium (Playwright) opens ``/#/alerts`` with the key already in session storage,
R times in fresh browser contexts. Measured per load, from the navigation's start:

- ``first_render_ms``: until the page marked ``alerts-rendered`` (every story row in the
  DOM after GET /v1/alerts answered), read from the Performance API;
- ``alerts_call_ms``: the GET /v1/alerts request's duration inside that (Resource Timing);
- ``rows``: story rows on the page (checked against the stories produced).

Prints a table and writes bench/results/console.json.

    python -m bench.console [--alerts 1000] [--rounds 7]
"""

import argparse
import asyncio
import json
import platform
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiokafka import AIOKafkaProducer
from playwright.async_api import async_playwright

from bench.common import BenchBroker, percentile
from schemas.alert import Alert
from schemas.enriched import Sentiment
from services.notify.apikeys import new_key
from services.runtime.kafka import ensure_newswire_topics, producer_config
from services.runtime.local import REPO_ROOT, WorkerProcess
from services.runtime.settings import KafkaSettings
from tests.e2e.browser import CHROMIUM_FLAGS, chromium_path

RESULTS = REPO_ROOT / "bench" / "results" / "console.json"
KEY, KEY_LINE = new_key("bench")
SOURCES = ["wire", "daily", "gazette", "herald", "post", "tribune", "courier", "times"]


def alerts_for(subs: list[str], n: int) -> tuple[list[Alert], int]:
    """``n`` alerts in stories of 1 to 4 outlets; the number of stories."""
    out: list[Alert] = []
    story = 0
    while len(out) < n:
        story += 1
        for outlet in range(1 + story % 4):
            if len(out) == n:
                break
            i = len(out)
            out.append(
                Alert(
                    alert_id=uuid.uuid4().hex,
                    subscription_id=subs[i % len(subs)],
                    subscription_name=f"subscription {i % len(subs)}",
                    article_id=f"article-{i}",
                    story_id=f"story-{story}",
                    title=f"Leaders discuss security guarantees for Ukraine, report {i}",
                    url=f"https://{SOURCES[outlet % len(SOURCES)]}.example/{i}",
                    source=SOURCES[outlet % len(SOURCES)],
                    published_at=datetime.now(UTC),
                    matched_topics=["ukraine-security-guarantees", "us-uk-relations"],
                    matched_terms=["security guarantees", "Ukraine", "Starmer"],
                    sentiment=Sentiment(score=-0.2, label="negative", method="bench"),
                    created_at=datetime.now(UTC),
                )
            )
    return out, story


async def produce(bootstrap: str, topic: str, alerts: list[Alert]) -> None:
    producer = AIOKafkaProducer(**producer_config(KafkaSettings(bootstrap=bootstrap), "bench"))
    await producer.start()
    try:
        for alert in alerts:
            await producer.send(
                topic, alert.model_dump_json().encode(), key=alert.subscription_id.encode()
            )
        await producer.flush()
    finally:
        await producer.stop()


async def measure(url: str, rounds: int) -> list[dict[str, float]]:
    loads: list[dict[str, float]] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        try:
            for _ in range(rounds):
                # bypass_csp: wait_for_function evaluates a string, which the page's CSP forbids.
                context = await browser.new_context(
                    viewport={"width": 1280, "height": 900}, bypass_csp=True
                )
                # Signed in already: the key in session storage, as the sign-in form leaves it.
                await context.add_init_script(
                    f"sessionStorage.setItem('newswire.apiKey', {json.dumps(KEY)})"
                )
                page = await context.new_page()
                await page.goto(f"{url}/#/alerts")
                await page.wait_for_function(
                    "performance.getEntriesByName('alerts-rendered').length > 0", timeout=30_000
                )
                figures = await page.evaluate(
                    """() => {
                        const mark = performance.getEntriesByName('alerts-rendered')[0];
                        const call = performance.getEntriesByType('resource')
                            .find(r => r.name.includes('/v1/alerts?'));
                        return {
                            first_render_ms: mark.startTime,
                            alerts_call_ms: call ? call.duration : -1,
                            rows: document.querySelectorAll('#alerts-list > li').length,
                            alerts: Number(document.body.dataset.alertsLoaded),
                        };
                    }"""
                )
                loads.append(figures)
                await context.close()
        finally:
            await browser.close()
    return loads


async def run(n: int, rounds: int) -> dict[str, Any]:
    broker = BenchBroker()
    prefix = f"bench{uuid.uuid4().hex[:8]}."
    try:
        await ensure_newswire_topics(broker.bootstrap, prefix, partitions=3)
        key_id, digest = KEY_LINE.split()
        log = Path(tempfile.mkdtemp(prefix="newswire-bench-console-")) / "notify.log"
        notify = WorkerProcess(
            "notify",
            broker.bootstrap,
            prefix,
            log,
            env={"NEWSWIRE_API__KEYS": json.dumps({key_id: digest})},
        )
        notify.start()
        try:
            await notify.wait_ready()
            subs = []
            async with aiohttp.ClientSession() as http:
                for i in range(2):
                    async with http.post(
                        f"{notify.api_url}/v1/subscriptions",
                        json={
                            "name": f"subscription {i}",
                            "topics": ["ukraine-security-guarantees"],
                        },
                        headers={"Authorization": f"Bearer {KEY}"},
                    ) as resp:
                        assert resp.status == 201, await resp.text()
                        subs.append((await resp.json())["id"])
            alerts, stories = alerts_for(subs, n)
            started = time.perf_counter()
            await produce(broker.bootstrap, prefix + "news.alerts", alerts)
            produced_s = time.perf_counter() - started
            loads = await measure(notify.api_url, rounds)
        finally:
            notify.stop()
    finally:
        broker.close()
    for load in loads:
        # The page loads the newest 1,000; with more, only the count of alerts is checked.
        if n <= 1000 and (load["rows"] != stories or load["alerts"] != n):
            raise SystemExit(f"the page showed {load}, expected {stories} stories of {n} alerts")
    renders = [load["first_render_ms"] for load in loads]
    calls = [load["alerts_call_ms"] for load in loads]
    return {
        "alerts": n,
        "stories": stories,
        "rounds": rounds,
        "produce_s": round(produced_s, 2),
        "first_render_ms": {
            "median": round(statistics.median(renders), 1),
            "p90": round(percentile(renders, 90), 1),
            "max": round(max(renders), 1),
            "all": [round(r, 1) for r in renders],
        },
        "alerts_call_ms": {
            "median": round(statistics.median(calls), 1),
            "max": round(max(calls), 1),
        },
        "target_first_render_ms": 1000,
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--alerts", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    result = asyncio.run(run(args.alerts, args.rounds))
    r = result["first_render_ms"]
    print(f"console first render, {result['alerts']} alerts in {result['stories']} stories:")
    print(f"  median {r['median']} ms, p90 {r['p90']} ms, max {r['max']} ms (target < 1000 ms)")
    print(f"  GET /v1/alerts inside it: median {result['alerts_call_ms']['median']} ms")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
