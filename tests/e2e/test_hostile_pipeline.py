"""Bad input at scale, live: the hostile corpus plus hypothesis-generated records go to
news.raw on the real broker, and real ingest, enrich and notify processes read them.

Checked at the end: every worker process is still the one started (no crash, no restart);
every input the broker accepted is accounted for (an Article on news.articles, a dead letter
on news.raw.dlq with reason headers and the original bytes, or dropped as a duplicate, which
the drop counter on /metrics covers); what the broker refused is exactly what is over its
limit; enrich and notify dead-letter nothing; and each worker's peak RSS stays bounded.
Inputs and outputs are matched by trace id: each input carries its own ``traceparent``, which
ingest continues on its Articles and keeps on its dead letters.
"""

import base64
import json
import os
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from schemas import topics
from services.runtime import dlq
from services.runtime.io import read_topic
from services.runtime.local import WorkerProcess
from services.runtime.trace import HEADER as TRACEPARENT
from services.runtime.trace import from_headers, new_trace
from tests.e2e.conftest import Spawn
from tests.helpers import generated_article
from tests.hostile import (
    BROKER_MAX_MESSAGE_BYTES,
    RECORD_OVERHEAD_BYTES,
    Hostile,
    corpus,
    envelope,
    forbidden_in,
)
from tests.unit.test_property import json_values, markup
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e

# Peak RSS bound per worker. Measured here (VmHWM after this test): ingest ~127 MiB, enrich
# ~64 MiB, notify ~59 MiB. Room on top of ingest's figure: the fetch buffer (aiokafka's
# fetch_max_bytes, 50 MiB), four in-flight batches of outputs, and one 2 MiB payload's parse
# trees (lexbor, trafilatura's lxml: tens of MiB) at once. A leak over a few hundred records
# or an expansion attack (a billion laughs needs gigabytes) does not fit in 384 MiB.
PEAK_RSS_BOUND_KIB = 384 * 1024


def draw(strategy: st.SearchStrategy[bytes], n: int) -> list[bytes]:
    """n examples of ``strategy``, drawn by hypothesis's generator (no shrinking: the live
    run checks them all at once, and the unit tests pin down any one that fails)."""
    out: list[bytes] = []

    @settings(
        max_examples=n,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(value: bytes) -> None:
        out.append(value)

    collect()
    return out


def _mutate(base: bytes, edits: list[tuple[int, bytes]]) -> bytes:
    data = bytearray(base)
    for position, insert in edits:
        at = position % (len(data) + 1)
        data[at : at + len(insert)] = insert
    return bytes(data)


def _valid_events() -> list[bytes]:
    return [envelope(generated_article(i).encode(), "text/plain", source="fuzz") for i in range(50)]


def generated_records(n_each: int) -> list[Hostile]:
    """Random bytes, mutated valid events (in the envelope and in the payload), random JSON
    shapes and markup soup: outcome unknown in advance, so expect is "any"."""
    valid = _valid_events()
    edits = st.lists(
        st.tuples(st.integers(0, 10**6), st.binary(min_size=1, max_size=8)), max_size=6
    )
    mutated_record = st.tuples(st.sampled_from(valid), edits).map(lambda v: _mutate(*v))
    mutated_payload = st.tuples(st.integers(0, 49), edits).map(
        lambda v: envelope(_mutate(generated_article(v[0]).encode(), v[1]), "text/plain")
    )
    random_json = json_values.map(lambda v: envelope(json.dumps(v).encode(), "application/json"))
    soup = markup.map(lambda v: envelope(v.encode(), "text/html"))
    strategies = {
        "bytes": st.binary(max_size=4000),
        "mutated-record": mutated_record,
        "mutated-payload": mutated_payload,
        "json": random_json,
        "markup": soup,
    }
    cases = [Hostile(f"valid-{i}", record, "article") for i, record in enumerate(valid)]
    for kind, strategy in strategies.items():
        for i, record in enumerate(draw(strategy, n_each)):
            cases.append(Hostile(f"{kind}-{i}", record, "any"))
    return cases


def big_records() -> list[Hostile]:
    """Over the broker's limit: refused at produce, never reach a worker."""
    words = b"word " * (3 * 1024 * 1024 // 5)
    return [
        Hostile("record-3MiB-random", base64.b64encode(os.urandom(2 * 1024 * 1024)), "refused"),
        Hostile("record-3MiB-text", envelope(words, "text/plain"), "refused"),
    ]


def peak_rss_kib(worker: WorkerProcess) -> int:
    assert worker.process is not None
    status = Path(f"/proc/{worker.process.pid}/status").read_text()
    line = next(x for x in status.splitlines() if x.startswith("VmHWM:"))
    return int(line.split()[1])


async def _run(kafka_bootstrap: str, topic_prefix: str, spawn: Spawn, cases: list[Hostile]) -> None:
    ingest, enrich, notify = spawn("ingest"), spawn("enrich"), spawn("notify")
    workers = (ingest, enrich, notify)
    for worker in workers:
        await worker.wait_ready()
    pids = {w.service: w.process.pid for w in workers if w.process is not None}

    # Produce one by one with a trace id each; the broker may refuse what is over its limit.
    raw_topic = topic_prefix + topics.RAW.name
    by_trace: dict[str, Hostile] = {}
    refused: list[Hostile] = []
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, acks="all", max_request_size=8 * 1024 * 1024
    )
    await producer.start()
    try:
        for i, case in enumerate(cases):
            span = new_trace()
            try:
                await producer.send_and_wait(
                    raw_topic,
                    case.record,
                    key=f"{case.name}-{i}".encode(),
                    headers=[(TRACEPARENT, span.header_value().encode())],
                )
            except MessageSizeTooLargeError:
                refused.append(case)
                continue
            by_trace[span.trace_id] = case
    finally:
        await producer.stop()
    # Refused: everything over the limit, nothing more than framing under it.
    assert {c.name for c in cases if len(c.record) > BROKER_MAX_MESSAGE_BYTES} <= {
        c.name for c in refused
    }
    assert all(len(c.record) > BROKER_MAX_MESSAGE_BYTES - RECORD_OVERHEAD_BYTES for c in refused)
    accepted = len(by_trace)

    async def ingest_consumed() -> bool:
        return await ingest.metric("newswire_records_consumed_total") >= accepted

    await wait_until(ingest_consumed, 180, f"ingest to consume {accepted} records")

    articles = [
        r
        async for r in read_topic(
            kafka_bootstrap, topic_prefix + topics.ARTICLES.name, idle_timeout=2
        )
    ]

    async def enriched_all() -> bool:
        return await notify.metric("newswire_records_consumed_total") >= len(articles)

    await wait_until(enriched_all, 180, f"{len(articles)} articles through enrich and notify")

    dead = [
        r async for r in read_topic(kafka_bootstrap, topic_prefix + "news.raw.dlq", idle_timeout=2)
    ]
    article_traces: dict[str, int] = {}
    for record in articles:
        span = from_headers(record.headers)
        assert span is not None
        article_traces[span.trace_id] = article_traces.get(span.trace_id, 0) + 1
    dead_traces: dict[str, str] = {}
    for record in dead:
        headers = dlq.header_map(record.headers)
        span = from_headers(record.headers)
        assert span is not None
        assert span.trace_id in by_trace
        assert record.value == by_trace[span.trace_id].record  # the original bytes
        assert headers[dlq.STAGE] == "ingest"
        assert headers[dlq.ORIGINAL_TOPIC] == raw_topic
        assert span.trace_id not in dead_traces, "one dead letter per input"
        dead_traces[span.trace_id] = headers[dlq.REASON]

    # Every accepted input: an article, a dead letter, or all its articles dropped.
    silent = [t for t in by_trace if t not in article_traces and t not in dead_traces]
    drops = await ingest.metric("newswire_records_dropped_total")
    assert len(silent) <= drops, [by_trace[t].name for t in silent]
    for trace_id, case in by_trace.items():
        if case.expect == "article":
            assert trace_id in article_traces or trace_id in silent, case.name
        elif case.expect != "any":
            assert dead_traces.get(trace_id) == case.expect, case.name
    for record in articles:  # generated text may say "on=" in prose; the corpus may not
        span = from_headers(record.headers)
        assert span is not None
        if by_trace[span.trace_id].expect != "any":
            assert forbidden_in(json.loads(record.value)) == [], by_trace[span.trace_id].name

    # enrich and notify: every article enriched, nothing valid dead-lettered.
    for dlq_topic in ("news.articles.dlq", "news.enriched.dlq"):
        stray = [
            r async for r in read_topic(kafka_bootstrap, topic_prefix + dlq_topic, idle_timeout=1)
        ]
        assert stray == [], dlq_topic
    assert await enrich.metric("newswire_dead_letters_total") == 0
    assert await notify.metric("newswire_dead_letters_total") == 0

    # No crash, no restart: the same processes, still running and live.
    for worker in workers:
        assert worker.process is not None
        assert worker.process.poll() is None, worker.log_tail()
        assert worker.process.pid == pids[worker.service]
        status, _ = await worker.get("/healthz")
        assert status == 200
    peaks = {w.service: peak_rss_kib(w) for w in workers}
    reasons: dict[str, int] = {}
    for reason in dead_traces.values():
        reasons[reason] = reasons.get(reason, 0) + 1
    print(
        json.dumps(
            {
                "inputs": len(cases),
                "refused_by_broker": len(refused),
                "accepted": accepted,
                "inputs_with_articles": len(article_traces),
                "articles": len(articles),
                "dead_letters": len(dead),
                "dropped_duplicates": drops,
                "inputs_only_dropped": len(silent),
                "dead_letter_reasons": dict(sorted(reasons.items())),
                "peak_rss_mib": {k: round(v / 1024, 1) for k, v in peaks.items()},
            }
        )
    )
    for service, peak in peaks.items():
        assert peak < PEAK_RSS_BOUND_KIB, f"{service} peaked at {peak / 1024:.0f} MiB"
    for worker in workers:
        assert worker.stop() == 0


async def test_hostile_corpus_and_generated_records(
    kafka_bootstrap: str, topic_prefix: str, spawn: Spawn
) -> None:
    cases = corpus() + generated_records(60)
    await _run(kafka_bootstrap, topic_prefix, spawn, cases)


@pytest.mark.slow
async def test_hostile_at_scale(kafka_bootstrap: str, topic_prefix: str, spawn: Spawn) -> None:
    """The corpus three times over (copies are duplicates or dead letters again), 300 of each
    generated kind, and records over the broker's limit."""
    cases = corpus() * 3 + generated_records(300) + big_records()
    await _run(kafka_bootstrap, topic_prefix, spawn, cases)
