"""Webhook delivery against the real broker and real aiohttp receivers on 127.0.0.1.

Alerts are produced to the test's prefixed ``news.alerts``; the delivery worker runs in this
process (``run_delivery``) or as a ``newswire deliver`` process, and receivers check every
signature with the independent ``standardwebhooks`` package. Backoffs are tiny so retry
budgets run out in well under a second; every wait is bounded.
"""

import asyncio
import contextlib
import dataclasses
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client import CollectorRegistry
from standardwebhooks import Webhook, WebhookVerificationError

from schemas import topics
from schemas.alert import Alert
from services.notify.attempts import Attempt
from services.notify.attempts import encode as encode_attempts
from services.notify.delivery import run_delivery
from services.notify.settings import DeliverySettings, WebhookSettings
from services.notify.webhooks import WebhookTarget, generate_secret
from services.runtime import dlq, trace
from services.runtime.io import read_topic
from services.runtime.local import WorkerProcess
from services.runtime.settings import CommitSettings, HttpSettings, KafkaSettings
from tests.alerts import make_alert
from tests.waiting import wait_until

pytestmark = pytest.mark.integration


@dataclass
class Hit:
    webhook_id: str
    timestamp: int
    body: bytes
    verified: bool
    status: int
    at: float
    traceparent: str | None = None
    tracestate: str | None = None


@dataclass
class Receiver:
    """A webhook receiver: answers each request with the next planned status (the last one
    repeats) and records what came, with the signature verified by ``standardwebhooks``."""

    secret: str = field(default_factory=generate_secret)
    statuses: list[int] = field(default_factory=lambda: [200])
    retry_after: str | None = None
    hits: list[Hit] = field(default_factory=list)

    def answered(self, status: int) -> list[Hit]:
        return [h for h in self.hits if h.status == status]

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            Webhook(self.secret).verify(body, dict(request.headers))
            verified = True
        except WebhookVerificationError:
            verified = False
        n = len(self.hits)
        status = self.statuses[min(n, len(self.statuses) - 1)]
        self.hits.append(
            Hit(
                request.headers.get("webhook-id", ""),
                int(request.headers.get("webhook-timestamp", "0")),
                body,
                verified,
                status,
                time.monotonic(),
                request.headers.get("traceparent"),
                request.headers.get("tracestate"),
            )
        )
        headers = {"Retry-After": self.retry_after} if self.retry_after and status >= 400 else {}
        return web.Response(status=status, headers=headers, text="ok")


@contextlib.asynccontextmanager
async def serving(**receivers: Receiver) -> AsyncIterator[str]:
    """Serves each receiver at /<name> on 127.0.0.1; yields the base URL."""
    app = web.Application()
    for name, receiver in receivers.items():
        app.router.add_post(f"/{name}", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def produce(
    bootstrap: str,
    prefix: str,
    alerts: list[Alert],
    partition: int | None = None,
    headers: list[tuple[str, bytes]] | None = None,
) -> list[tuple[int, int, bytes]]:
    """Produces alerts keyed by subscription id (with ``headers`` on each); returns
    (partition, offset, value) each."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    sent = []
    try:
        for alert in alerts:
            value = alert.model_dump_json().encode()
            meta = await producer.send_and_wait(
                prefix + topics.ALERTS.name,
                value=value,
                key=alert.subscription_id.encode(),
                partition=partition,
                headers=headers,
            )
            sent.append((meta.partition, meta.offset, value))
    finally:
        await producer.stop()
    return sent


async def send_record(bootstrap: str, topic: str, key: bytes, value: bytes) -> None:
    """One record with these bytes on ``topic`` (the full name), acknowledged."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value=value, key=key)
    finally:
        await producer.stop()


def settings_for(bootstrap: str, prefix: str, **webhook: Any) -> DeliverySettings:
    knobs: dict[str, Any] = {
        "webhook_allow_hosts": ("127.0.0.1",),
        "retry_base_delay_seconds": 0.02,
        "retry_max_delay_seconds": 0.1,
        "retry_max_attempts": 3,
        "webhook_timeout_seconds": 5.0,
        **webhook,
    }
    return DeliverySettings(
        kafka=KafkaSettings(bootstrap=bootstrap, max_batch=50),
        http=HttpSettings(port=0),
        topic_prefix=prefix,
        commit=CommitSettings(every_seconds=0.1),
        notify=WebhookSettings(**knobs),
    )


@dataclass
class Gone:
    calls: list[tuple[str, str]] = field(default_factory=list)

    async def __call__(self, subscription_id: str, reason: str) -> None:
        self.calls.append((subscription_id, reason))


@contextlib.asynccontextmanager
async def delivering(
    settings: DeliverySettings, targets: dict[str, WebhookTarget], gone: Gone | None = None
) -> AsyncIterator[CollectorRegistry]:
    """The delivery worker in this process; stopped (orderly) on exit."""
    stop = asyncio.Event()
    registry = CollectorRegistry()
    task = asyncio.create_task(
        run_delivery(settings, targets.get, gone or Gone(), stop=stop, registry=registry)
    )
    try:
        yield registry
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return sum(
        s.value
        for metric in registry.collect()
        for s in metric.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


async def committed(bootstrap: str, settings: DeliverySettings, partition: int) -> int:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=settings.group_for("deliver"),
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        tp = TopicPartition(settings.topic(topics.ALERTS.name), partition)
        return int(await consumer.committed(tp) or 0)
    finally:
        await consumer.stop()


async def wait_delivered(
    registry: CollectorRegistry, n: int, what: str, timeout: float, outcome: str = "delivered"
) -> None:
    """Until the worker counts ``n`` alerts with ``outcome`` (delivered, dead_letter, ...)."""

    async def done() -> bool:
        return sample(registry, "newswire_webhook_deliveries_total", outcome=outcome) == n

    await wait_until(done, timeout, what)


async def wait_committed(
    bootstrap: str,
    settings: DeliverySettings,
    partition: int,
    offset: int,
    what: str,
    timeout: float,
) -> None:
    """Until the group's committed offset on ``partition`` is ``offset``."""

    async def done() -> bool:
        return await committed(bootstrap, settings, partition) == offset

    await wait_until(done, timeout, what)


async def dead_letters(bootstrap: str, prefix: str, expected: int) -> list[Any]:
    return [
        r
        async for r in read_topic(
            bootstrap,
            prefix + "news.alerts.dlq",
            max_records=expected,
            idle_timeout=3,
            total_timeout=20,
        )
    ]


async def test_signed_webhook_verified_by_standardwebhooks(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    """One alert, one POST: the body is the alert's JSON, webhook-id its alert_id, and the
    independent verifier accepts the signature; the offset is committed after delivery."""
    receiver = Receiver()
    alert = make_alert("sub-ok", 1)
    settings = settings_for(kafka_bootstrap, topic_prefix)
    async with serving(hook=receiver) as base:
        targets = {"sub-ok": WebhookTarget(f"{base}/hook", receiver.secret)}
        [(partition, offset, value)] = await produce(kafka_bootstrap, topic_prefix, [alert])
        async with delivering(settings, targets) as registry:
            await wait_delivered(registry, 1, "the delivery", 30)

            await wait_committed(kafka_bootstrap, settings, partition, offset + 1, "the commit", 10)
            assert sample(registry, "newswire_webhook_delivery_seconds_count") == 1
            assert sample(registry, "newswire_webhook_request_seconds_count") == 1
            assert sample(registry, "newswire_pending_records") == 0
    [hit] = receiver.hits
    assert hit.verified
    assert hit.webhook_id == alert.alert_id
    assert hit.body == value
    assert Alert.model_validate_json(hit.body) == alert
    assert abs(hit.timestamp - time.time()) < 60
    # The alert had no traceparent: the request starts a trace of its own.
    assert trace.parse(hit.traceparent) is not None


async def test_two_failures_then_success_is_one_delivery_with_one_id(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    """500, 500, 200: three attempts with the same webhook-id, exactly one success; each
    attempt continues the alert's trace as a span of its own."""
    receiver = Receiver(statuses=[500, 500, 200])
    alert = make_alert("sub-flaky", 1)
    settings = settings_for(kafka_bootstrap, topic_prefix, retry_max_attempts=5)
    alert_trace = dataclasses.replace(trace.new_trace(), state=b"vendor=abc")
    async with serving(hook=receiver) as base:
        targets = {"sub-flaky": WebhookTarget(f"{base}/hook", receiver.secret)}
        traced = trace.with_traceparent([], alert_trace)
        await produce(kafka_bootstrap, topic_prefix, [alert], headers=traced)
        async with delivering(settings, targets) as registry:
            await wait_delivered(registry, 1, "the delivery", 30)
            await asyncio.sleep(0.5)  # room for a wrong extra attempt to show up
            assert sample(registry, "newswire_webhook_attempts_total", result="5xx") == 2
            assert sample(registry, "newswire_webhook_attempts_total", result="2xx") == 1
    assert [h.status for h in receiver.hits] == [500, 500, 200]
    assert {h.webhook_id for h in receiver.hits} == {alert.alert_id}
    assert all(h.verified for h in receiver.hits)
    assert len(receiver.answered(200)) == 1
    spans = [trace.parse(h.traceparent) for h in receiver.hits]
    assert {s.trace_id for s in spans if s is not None} == {alert_trace.trace_id}
    assert len({s.span_id for s in spans if s is not None} | {alert_trace.span_id}) == 4
    assert {h.tracestate for h in receiver.hits} == {"vendor=abc"}


async def test_410_disables_the_endpoint_once(kafka_bootstrap: str, topic_prefix: str) -> None:
    """A 410 calls on_gone once; later alerts for that subscription are not sent; the gone
    alert is dead-lettered as endpoint_gone, so it is not silently lost."""
    receiver = Receiver(statuses=[410])
    alerts = [make_alert("sub-gone", n) for n in range(3)]
    gone = Gone()
    settings = settings_for(kafka_bootstrap, topic_prefix)
    async with serving(hook=receiver) as base:
        targets = {"sub-gone": WebhookTarget(f"{base}/hook", receiver.secret)}
        await produce(kafka_bootstrap, topic_prefix, alerts)
        async with delivering(settings, targets, gone) as registry:

            async def finished() -> bool:
                total = sample(registry, "newswire_webhook_deliveries_total")
                return total == 3

            await wait_until(finished, 30, "all three alerts finished")
            assert sample(registry, "newswire_webhook_endpoints_disabled_total") == 1
            assert sample(registry, "newswire_webhook_deliveries_total", outcome="gone") == 1
            assert sample(registry, "newswire_webhook_deliveries_total", outcome="disabled") == 2
    assert gone.calls == [("sub-gone", "receiver answered 410 Gone")]
    assert len(receiver.hits) == 1
    [dead] = await dead_letters(kafka_bootstrap, topic_prefix, 1)
    assert dlq.header_map(dead.headers)[dlq.REASON] == "endpoint_gone"


async def test_budget_spent_goes_to_the_dead_letter_topic(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    """A receiver that always fails gets max_attempts attempts; then the alert's original
    bytes land on news.alerts.dlq with Kafka-Connect-style reason headers."""
    receiver = Receiver(statuses=[503])
    alert = make_alert("sub-down", 1)
    settings = settings_for(kafka_bootstrap, topic_prefix, retry_max_attempts=3)
    async with serving(hook=receiver) as base:
        targets = {"sub-down": WebhookTarget(f"{base}/hook", receiver.secret)}
        [(partition, offset, value)] = await produce(kafka_bootstrap, topic_prefix, [alert])
        async with delivering(settings, targets) as registry:
            await wait_delivered(registry, 1, "the dead letter", 30, outcome="dead_letter")

            await wait_committed(
                kafka_bootstrap,
                settings,
                partition,
                offset + 1,
                "the commit after the dead letter",
                10,
            )
    assert len(receiver.hits) == 3
    assert {h.webhook_id for h in receiver.hits} == {alert.alert_id}
    [record] = await dead_letters(kafka_bootstrap, topic_prefix, 1)
    headers = dlq.header_map(record.headers)
    assert record.value == value
    assert record.key == b"sub-down"
    assert headers[dlq.REASON] == "webhook_retries_exhausted"
    assert headers[dlq.STAGE] == "deliver"
    assert headers[dlq.ORIGINAL_TOPIC] == topic_prefix + "news.alerts"
    assert headers[dlq.ORIGINAL_PARTITION] == str(partition)
    assert headers[dlq.ORIGINAL_OFFSET] == str(offset)
    assert "3 attempts" in headers[dlq.EXCEPTION_MESSAGE]
    assert "status 503" in headers[dlq.EXCEPTION_MESSAGE]


async def test_a_webhook_retried_before_a_restart_carries_on_its_budget(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    """news.alerts.attempts says an earlier worker made 4 attempts at this alert, the first
    20 s ago, and planned the next in 1.5 s: this worker waits until then, numbers its
    attempt 5, and with a budget of 5 attempts dead-letters the alert after that one failure
    (starting over at 1 would have made 5 more)."""
    receiver = Receiver(statuses=[500])
    alert = make_alert("sub-resumed", 1)
    settings = settings_for(
        kafka_bootstrap, topic_prefix, retry_max_attempts=5, retry_max_delay_seconds=5
    )
    now_ms = int(time.time() * 1000)
    started = time.monotonic()
    earlier = tuple(
        Attempt(
            at_ms=now_ms - 20_000 + 5_000 * n,
            webhook_id=alert.alert_id,
            attempt=n + 1,
            status=500,
            result="5xx",
            error=None,
            verdict="retry",
            next_attempt_ms=now_ms + 1_500 if n == 3 else now_ms - 20_000 + 5_000 * (n + 1),
        )
        for n in range(4)
    )
    await send_record(
        kafka_bootstrap,
        settings.topic(topics.ALERT_ATTEMPTS),
        b"sub-resumed",
        encode_attempts(tuple(reversed(earlier))),  # newest first, as stored
    )
    async with serving(hook=receiver) as base:
        targets = {"sub-resumed": WebhookTarget(f"{base}/hook", receiver.secret)}
        await produce(kafka_bootstrap, topic_prefix, [alert])
        async with delivering(settings, targets) as registry:
            await wait_delivered(registry, 1, "the dead letter", 30, outcome="dead_letter")
    [hit] = receiver.hits
    assert hit.webhook_id == alert.alert_id
    assert hit.at - started >= 1.3  # the planned time, not at once
    [record] = await dead_letters(kafka_bootstrap, topic_prefix, 1)
    message = dlq.header_map(record.headers)[dlq.EXCEPTION_MESSAGE]
    assert "5 attempts over" in message
    assert float(message.split(" over ")[1].split("s;")[0]) >= 20  # the budget's clock too


async def test_retry_after_is_honoured(kafka_bootstrap: str, topic_prefix: str) -> None:
    """429 with Retry-After: 1 delays the next attempt by a second, though the backoff
    alone would retry within 0.1 s."""
    receiver = Receiver(statuses=[429, 200], retry_after="1")
    alert = make_alert("sub-throttled", 1)
    settings = settings_for(kafka_bootstrap, topic_prefix, retry_max_delay_seconds=5.0)
    async with serving(hook=receiver) as base:
        targets = {"sub-throttled": WebhookTarget(f"{base}/hook", receiver.secret)}
        await produce(kafka_bootstrap, topic_prefix, [alert])
        async with delivering(settings, targets) as registry:
            await wait_delivered(registry, 1, "the delivery", 30)
    first, second = receiver.hits
    assert (first.status, second.status) == (429, 200)
    assert 0.95 <= second.at - first.at < 3.0


async def test_a_failing_subscriber_does_not_hold_up_others(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    """Two subscriptions on one partition, the failing one first: the healthy one is
    delivered while the other retries, and the partition's offset is not committed past
    the undelivered alert."""
    down, up = Receiver(statuses=[500]), Receiver()
    settings = settings_for(
        kafka_bootstrap,
        topic_prefix,
        retry_base_delay_seconds=0.2,
        retry_max_delay_seconds=0.2,
        retry_max_attempts=1000,
    )
    async with serving(down=down, up=up) as base:
        targets = {
            "sub-down": WebhookTarget(f"{base}/down", down.secret),
            "sub-up": WebhookTarget(f"{base}/up", up.secret),
        }
        sent = await produce(
            kafka_bootstrap,
            topic_prefix,
            [make_alert("sub-down", 1), make_alert("sub-up", 2), make_alert("sub-up", 3)],
            partition=0,
        )
        async with delivering(settings, targets) as registry:
            await wait_delivered(registry, 2, "the healthy subscriber's alerts", 30)
            await asyncio.sleep(0.5)  # several commit intervals
            assert len(down.hits) >= 2
            assert await committed(kafka_bootstrap, settings, 0) <= sent[0][1]
    assert len(up.hits) == 2
    assert all(h.verified for h in up.hits)


async def test_restart_mid_retry_delivers_with_the_same_id(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    """The worker stops while retrying an alert; its offset is not committed; a new worker
    delivers it with the same webhook-id, and commits."""
    receiver = Receiver(statuses=[500])
    alert = make_alert("sub-restart", 1)
    settings = settings_for(
        kafka_bootstrap,
        topic_prefix,
        retry_base_delay_seconds=0.1,
        retry_max_delay_seconds=0.1,
        retry_max_attempts=1000,
    )
    async with serving(hook=receiver) as base:
        targets = {"sub-restart": WebhookTarget(f"{base}/hook", receiver.secret)}
        [(partition, offset, _)] = await produce(kafka_bootstrap, topic_prefix, [alert])
        async with delivering(settings, targets):

            async def retrying() -> bool:
                return len(receiver.hits) >= 2

            await wait_until(retrying, 30, "a few failed attempts")
        attempts_before = len(receiver.hits)
        assert await committed(kafka_bootstrap, settings, partition) <= offset
        receiver.statuses = [200]
        receiver.hits.clear()
        async with delivering(settings, targets) as registry:
            await wait_delivered(registry, 1, "the delivery after restart", 30)

            await wait_committed(
                kafka_bootstrap, settings, partition, offset + 1, "the commit after delivery", 10
            )
    assert attempts_before >= 2
    assert [(h.webhook_id, h.status) for h in receiver.hits] == [(alert.alert_id, 200)]


async def test_rate_limited_alerts_fold_into_one_digest(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    """Burst 1, a token a second: of five alerts at once the first goes alone and the four
    others arrive as one signed digest; every alert exactly once. The digest request
    continues its first alert's trace."""
    receiver = Receiver()
    alerts = [make_alert("sub-busy", n) for n in range(5)]
    traces = [trace.new_trace() for _ in alerts]
    settings = settings_for(kafka_bootstrap, topic_prefix)
    async with serving(hook=receiver) as base:
        targets = {
            "sub-busy": WebhookTarget(
                f"{base}/hook", receiver.secret, rate_per_minute=60.0, burst=1
            )
        }
        for alert, alert_trace in zip(alerts, traces, strict=True):
            traced = trace.with_traceparent([], alert_trace)
            await produce(kafka_bootstrap, topic_prefix, [alert], headers=traced)
        async with delivering(settings, targets) as registry:
            await wait_delivered(registry, 5, "all five alerts", 30)
            assert sample(registry, "newswire_webhook_digests_total") == 1
    single, digest = receiver.hits
    assert single.webhook_id == alerts[0].alert_id
    assert digest.webhook_id.startswith("dg_")
    assert single.verified
    assert digest.verified
    body = json.loads(digest.body)
    assert body["type"] == "alert.digest"
    assert body["digest_id"] == digest.webhook_id
    assert [a["alert_id"] for a in body["alerts"]] == [a.alert_id for a in alerts[1:]]
    assert digest.at - single.at >= 0.9
    single_trace = trace.parse(single.traceparent)
    digest_trace = trace.parse(digest.traceparent)
    assert single_trace is not None
    assert digest_trace is not None
    assert single_trace.trace_id == traces[0].trace_id
    assert digest_trace.trace_id == traces[1].trace_id


async def test_a_planned_digest_is_resent_unchanged_after_restart(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    """A digest fails, the worker stops, the receiver recovers: the new worker sends the same
    digest (same webhook-id, same bytes) and none of its alerts alone."""
    receiver = Receiver(statuses=[200, 500])
    alerts = [make_alert("sub-digest", n) for n in range(4)]
    settings = settings_for(
        kafka_bootstrap,
        topic_prefix,
        retry_base_delay_seconds=0.1,
        retry_max_delay_seconds=0.1,
        retry_max_attempts=1000,
    )
    async with serving(hook=receiver) as base:
        targets = {
            "sub-digest": WebhookTarget(
                f"{base}/hook", receiver.secret, rate_per_minute=120.0, burst=1
            )
        }
        sent = await produce(kafka_bootstrap, topic_prefix, alerts)
        partition, last_offset = sent[-1][0], sent[-1][1]
        async with delivering(settings, targets):

            async def digest_failing() -> bool:
                return sum(h.webhook_id.startswith("dg_") for h in receiver.hits) >= 2

            await wait_until(digest_failing, 30, "the digest failing twice")
        failed_digest = next(h for h in receiver.hits if h.webhook_id.startswith("dg_"))
        assert await committed(kafka_bootstrap, settings, partition) <= sent[1][1]
        receiver.statuses = [200]
        receiver.hits.clear()
        async with delivering(settings, targets) as registry:
            await wait_committed(
                kafka_bootstrap,
                settings,
                partition,
                last_offset + 1,
                "every alert finished after restart",
                30,
            )
            delivered = sample(registry, "newswire_webhook_deliveries_total", outcome="delivered")
    # Only the digest is sent again: the first alert (delivered alone before the stop) was
    # either committed or is skipped as done by the ledger; the others only in the digest.
    assert [h.webhook_id for h in receiver.hits] == [failed_digest.webhook_id]
    assert receiver.hits[0].body == failed_digest.body
    assert receiver.hits[0].verified
    assert [a["alert_id"] for a in json.loads(failed_digest.body)["alerts"]] == [
        a.alert_id for a in alerts[1:]
    ]
    assert delivered == 3


@pytest.mark.slow
async def test_killed_worker_process_redelivers_after_restart(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    """``newswire deliver`` as a process, SIGKILLed mid-retry: nothing was committed for the
    alert, and a new process delivers it with the same webhook-id."""
    receiver = Receiver(statuses=[500])
    alert = make_alert("sub-kill", 1)
    async with serving(hook=receiver) as base:
        targets_path = tmp_path / "targets.yaml"
        targets_path.write_text(
            yaml.safe_dump({"sub-kill": {"url": f"{base}/hook", "secret": receiver.secret}})
        )
        env = {
            "NEWSWIRE_NOTIFY__WEBHOOK_TARGETS_PATH": str(targets_path),
            "NEWSWIRE_NOTIFY__WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
            "NEWSWIRE_NOTIFY__RETRY_BASE_DELAY_SECONDS": "0.1",
            "NEWSWIRE_NOTIFY__RETRY_MAX_DELAY_SECONDS": "0.1",
            "NEWSWIRE_NOTIFY__RETRY_MAX_ATTEMPTS": "1000",
            "NEWSWIRE_COMMIT__EVERY_SECONDS": "0.1",
        }
        [(partition, offset, _)] = await produce(kafka_bootstrap, topic_prefix, [alert])
        first = WorkerProcess(
            "deliver", kafka_bootstrap, topic_prefix, tmp_path / "deliver-0.log", env=env
        )
        first.start()
        try:

            async def retrying() -> bool:
                return len(receiver.hits) >= 3

            await wait_until(retrying, 60, "the first process retrying")
        finally:
            first.kill()
        settings = settings_for(kafka_bootstrap, topic_prefix)
        assert await committed(kafka_bootstrap, settings, partition) <= offset
        receiver.statuses = [200]
        receiver.hits.clear()
        second = WorkerProcess(
            "deliver", kafka_bootstrap, topic_prefix, tmp_path / "deliver-1.log", env=env
        )
        second.start()
        try:
            await second.wait_ready(60)

            async def delivered() -> bool:
                return bool(receiver.answered(200))

            await wait_until(delivered, 60, "the delivery by the second process")

            await wait_committed(
                kafka_bootstrap,
                settings,
                partition,
                offset + 1,
                "the commit by the second process",
                20,
            )
            assert (
                await second.metric("newswire_webhook_deliveries_total", outcome="delivered") == 1
            )
        finally:
            assert second.stop() == 0
    assert {h.webhook_id for h in receiver.hits} == {alert.alert_id}
    assert all(h.verified for h in receiver.hits)


async def test_undecodable_alert_is_dead_lettered(kafka_bootstrap: str, topic_prefix: str) -> None:
    """Bytes that are not an Alert go to news.alerts.dlq as invalid_envelope, unchanged,
    and the worker keeps delivering the alerts behind them."""
    receiver = Receiver()
    alert = make_alert("sub-after-junk", 1)
    settings = settings_for(kafka_bootstrap, topic_prefix)
    await send_record(
        kafka_bootstrap, topic_prefix + topics.ALERTS.name, b"sub-after-junk", b"{not json"
    )
    async with serving(hook=receiver) as base:
        targets = {"sub-after-junk": WebhookTarget(f"{base}/hook", receiver.secret)}
        await produce(kafka_bootstrap, topic_prefix, [alert])
        async with delivering(settings, targets) as registry:

            async def both() -> bool:
                return sample(registry, "newswire_webhook_deliveries_total") == 2

            await wait_until(both, 30, "the junk dead-lettered and the alert delivered")
    [record] = await dead_letters(kafka_bootstrap, topic_prefix, 1)
    assert record.value == b"{not json"
    assert dlq.header_map(record.headers)[dlq.REASON] == "invalid_envelope"
    assert [h.webhook_id for h in receiver.hits] == [alert.alert_id]


async def test_a_full_partition_pauses_until_alerts_finish(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    """With max_pending_per_partition=2, two alerts retrying fill partition 0's window: the
    alert behind them is not even read until they finish, then it is delivered."""
    down_a, down_b, up = Receiver(statuses=[500]), Receiver(statuses=[500]), Receiver()
    settings = settings_for(
        kafka_bootstrap,
        topic_prefix,
        retry_base_delay_seconds=0.1,
        retry_max_delay_seconds=0.1,
        retry_max_attempts=1000,
        max_pending_per_partition=2,
    )
    settings = settings.model_copy(
        update={"kafka": KafkaSettings(bootstrap=kafka_bootstrap, max_batch=1)}
    )
    async with serving(a=down_a, b=down_b, up=up) as base:
        targets = {
            "sub-a": WebhookTarget(f"{base}/a", down_a.secret),
            "sub-b": WebhookTarget(f"{base}/b", down_b.secret),
            "sub-up": WebhookTarget(f"{base}/up", up.secret),
        }
        alerts = [make_alert("sub-a", 1), make_alert("sub-b", 2), make_alert("sub-up", 3)]
        await produce(kafka_bootstrap, topic_prefix, alerts, partition=0)
        async with delivering(settings, targets) as registry:

            async def both_retrying() -> bool:
                return len(down_a.hits) >= 3 and len(down_b.hits) >= 3

            await wait_until(both_retrying, 30, "two alerts retrying")
            await asyncio.sleep(0.5)
            assert up.hits == []
            assert sample(registry, "newswire_pending_records") == 2
            down_a.statuses = [200]
            down_b.statuses = [200]

            await wait_delivered(registry, 3, "every alert once the window opened", 30)
    assert [h.webhook_id for h in up.hits] == [alerts[2].alert_id]


async def test_the_rate_limit_holds_across_quiet_moments(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    """The bucket belongs to the subscription, not to a burst of alerts: after one alert
    spent the only token, two later alerts wait for the next token and go as one digest."""
    receiver = Receiver()
    first, second, third = (make_alert("sub-steady", n) for n in range(3))
    settings = settings_for(kafka_bootstrap, topic_prefix)
    async with serving(hook=receiver) as base:
        targets = {
            "sub-steady": WebhookTarget(
                f"{base}/hook", receiver.secret, rate_per_minute=30.0, burst=1
            )
        }
        async with delivering(settings, targets) as registry:
            await produce(kafka_bootstrap, topic_prefix, [first])

            async def one() -> bool:
                return len(receiver.hits) == 1

            await wait_until(one, 30, "the first alert")
            await produce(kafka_bootstrap, topic_prefix, [second, third])

            await wait_delivered(registry, 3, "the digest", 30)
    single, digest = receiver.hits
    assert single.webhook_id == first.alert_id
    assert [a["alert_id"] for a in json.loads(digest.body)["alerts"]] == [
        second.alert_id,
        third.alert_id,
    ]
    assert digest.at - single.at >= 1.9  # one token every 2 s


async def test_rebalance_mid_retry_hands_the_alert_over(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    """A second worker joins while the first retries an alert: the alerts end up delivered
    exactly once each (2xx), the retried one under its one webhook-id, whoever owns it."""
    flaky, steady = Receiver(statuses=[500]), Receiver()
    settings = settings_for(
        kafka_bootstrap,
        topic_prefix,
        retry_base_delay_seconds=0.1,
        retry_max_delay_seconds=0.1,
        retry_max_attempts=1000,
    )
    retried = make_alert("sub-flaky", 1)
    others = [make_alert(f"sub-{n}", n) for n in range(12)]
    async with serving(flaky=flaky, steady=steady) as base:
        targets = {"sub-flaky": WebhookTarget(f"{base}/flaky", flaky.secret)}
        targets |= {
            a.subscription_id: WebhookTarget(f"{base}/steady", steady.secret) for a in others
        }
        await produce(kafka_bootstrap, topic_prefix, [retried])
        async with delivering(settings, targets):

            async def retrying() -> bool:
                return len(flaky.hits) >= 2

            await wait_until(retrying, 30, "the first worker retrying")
            async with delivering(settings, targets):
                await produce(kafka_bootstrap, topic_prefix, others)

                async def steady_done() -> bool:
                    return len(steady.hits) >= len(others)

                await wait_until(steady_done, 30, "the other alerts")
                flaky.statuses = [200]

                async def flaky_done() -> bool:
                    return bool(flaky.answered(200))

                await wait_until(flaky_done, 30, "the retried alert")
                await asyncio.sleep(1.0)  # room for a wrong second delivery
    assert len(flaky.answered(200)) == 1
    assert {h.webhook_id for h in flaky.hits} == {retried.alert_id}
    assert sorted(h.webhook_id for h in steady.hits) == sorted(a.alert_id for a in others)
