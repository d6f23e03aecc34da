"""One article followed by its trace id: Kafka headers, the webhook request, every log file.

A raw event is produced with a known W3C ``traceparent``; ingest, enrich, notify and deliver
run as real processes on the real broker, and the webhook goes to an aiohttp receiver on
127.0.0.1. The trace id must be on the records of news.articles, news.enriched and
news.alerts (each stage a new span), on the webhook request, and in the JSON log lines of
all four processes: what "follow one article with grep" promises.
"""

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from schemas import topics
from services.notify.apikeys import new_key
from services.runtime import trace
from services.runtime.io import produce_raw, read_topic
from services.runtime.local import WorkerProcess, free_port
from services.runtime.settings import KafkaSettings
from tests.api_client import ApiClient
from tests.e2e.conftest import Spawn, start_all_stages
from tests.helpers import raw_event, seed_text
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e

ALICE, ALICE_LINE = new_key("alice")
KEYS = json.dumps(dict([ALICE_LINE.split()]))
SCRAPER_SPAN = trace.TraceParent("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "01")


@pytest.fixture
async def webhook_requests() -> AsyncIterator[tuple[str, list[dict[str, str]]]]:
    """A receiver on 127.0.0.1; yields its URL and the headers of each request it got."""
    got: list[dict[str, str]] = []
    port = free_port()

    async def hook(request: web.Request) -> web.Response:
        await request.read()
        got.append({k.lower(): v for k, v in request.headers.items()})
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}/hook", got
    finally:
        await runner.cleanup()


async def spans_on(bootstrap: str, topic: str) -> list[trace.TraceParent | None]:
    """The traceparent of every record on ``topic`` (None where it has none or a bad one)."""
    return [
        trace.from_headers(list(record.headers or []))
        async for record in read_topic(bootstrap, topic, idle_timeout=2.0, total_timeout=20.0)
    ]


def log_lines_with(worker: WorkerProcess, trace_id: str) -> list[dict[str, Any]]:
    """The worker's JSON log lines that carry ``trace_id`` (what `grep <trace id>` finds)."""
    found = []
    for line in Path(worker.log_path).read_text(errors="replace").splitlines():
        if trace_id not in line:
            continue
        entry = json.loads(line)  # every line about the record is JSON, not just mentions it
        if entry.get("trace_id") == trace_id:
            found.append(entry)
    return found


async def test_one_article_is_followed_by_its_trace_id_through_every_service(
    kafka_bootstrap: str,
    topic_prefix: str,
    spawn: Spawn,
    webhook_requests: tuple[str, list[dict[str, str]]],
) -> None:
    url, got = webhook_requests
    workers = await start_all_stages(spawn, KEYS)
    async with aiohttp.ClientSession() as http:
        api = ApiClient(workers[2].api_url, ALICE, http)
        answer = await api.call(
            "POST",
            "/v1/subscriptions",
            {
                "name": "guarantees",
                "topics": ["ukraine-security-guarantees"],
                "mode": "every",
                "webhook": {"url": url},
            },
        )
        assert answer.status == 201, answer.json()

    await produce_raw(
        KafkaSettings(bootstrap=kafka_bootstrap),
        topic_prefix + topics.RAW.name,
        [raw_event(seed_text(), source="wire")],
        headers=[trace.with_traceparent([], SCRAPER_SPAN)],
    )

    async def delivered() -> bool:
        return len(got) >= 1

    await wait_until(delivered, 90, "the webhook request")
    trace_id = SCRAPER_SPAN.trace_id

    stage_spans = []
    for spec in (topics.ARTICLES, topics.ENRICHED, topics.ALERTS):
        [span] = await spans_on(kafka_bootstrap, topic_prefix + spec.name)
        assert span is not None, f"no traceparent on {spec.name}"
        assert span.trace_id == trace_id, spec.name
        stage_spans.append(span.span_id)

    [request] = got
    sent = trace.parse(request.get("traceparent"))
    assert sent is not None, request
    assert sent.trace_id == trace_id
    # Each hop is a span of its own: the scraper's, three stages', the webhook request's.
    assert len({SCRAPER_SPAN.span_id, *stage_spans, sent.span_id}) == 5

    for worker in workers:
        lines = log_lines_with(worker, trace_id)
        assert lines, f"{worker.service}: no log line with trace_id {trace_id}"
    ingest_events = {entry["event"] for entry in log_lines_with(workers[0], trace_id)}
    assert "record_processed" in ingest_events
    attempts = [e for e in log_lines_with(workers[3], trace_id) if e["event"] == "webhook_attempt"]
    assert [a["status"] for a in attempts] == [204]
    # article_id sits next to trace_id on every line, so either finds the other.
    article_ids = {e.get("article_id") for w in workers for e in log_lines_with(w, trace_id)}
    assert len(article_ids) == 1
    assert None not in article_ids
