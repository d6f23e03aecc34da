"""Webhook delivery: each alert on ``news.alerts`` to its subscription's URL, signed, retried.

The dispatch loop (services/runtime/dispatch.py) hands every alert record here and commits
its offset once the returned future completes; a future completes only after the alert's
terminal outcome is acknowledged by the broker (ledger entry, dead letter). So an alert is
never acknowledged before it is delivered or dead-lettered, and one read again after a
restart is delivered with the same ``webhook-id`` (or skipped, the ledger says it is done).

Head-of-line blocking: alerts are queued per subscription ("lane", all on one partition since
alerts are keyed by subscription id) and lanes run concurrently, bounded by
``max_concurrent_requests`` HTTP requests in flight. A slow or failing receiver delays only
its own subscription's alerts. It does hold back the *commit* of its partition (offsets
commit up to the first unfinished alert), until its retry budget ends; meanwhile other
subscribers' alerts on that partition keep being delivered, up to ``max_pending_per_partition``
unfinished alerts, past which the partition pauses. Alerts finished behind the stuck one are
read again after a restart and skipped by the ledger.
"""

import asyncio
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
import yaml
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from schemas import topics
from schemas.alert import Alert, AlertDigest
from schemas.subscription import Subscription
from services.notify.attempts import Attempt, History, appended, attempts_table, short_error
from services.notify.ledger import LedgerEntry, ledger_table
from services.notify.ratelimit import DigestPlanner, TokenBucket
from services.notify.retry import RetryPolicy, Verdict, parse_retry_after
from services.notify.sender import WebhookSender
from services.notify.settings import DeliverySettings, WebhookSettings
from services.notify.ssrf import url_shape_refusal
from services.notify.webhooks import (
    InvalidSecret,
    WebhookTarget,
    digest_id,
    secret_key,
    signed_headers,
)
from services.runtime.commit import TopicPartitionKey
from services.runtime.dispatch import Dispatcher, Emitter, run_dispatch
from services.runtime.dlq import SourcePosition, dead_letter_headers
from services.runtime.errors import InvalidMessage
from services.runtime.metrics import WorkerMetrics
from services.runtime.table import ChangelogTable
from services.runtime.trace import HEADER as TRACEPARENT
from services.runtime.trace import STATE_HEADER as TRACESTATE
from services.runtime.trace import TraceParent, from_headers, new_trace
from services.runtime.worker import InputRecord, OutRecord

log = structlog.get_logger("newswire.notify")

PRUNE_PLANNERS_EVERY = 10_000
Targets = Callable[[str], WebhookTarget | None]
OnGone = Callable[[str, str], Awaitable[None]]
Emit = Callable[[list[OutRecord]], Awaitable[None]]


class DeliveryFailed(InvalidMessage):
    """An alert that could not be delivered: ``webhook_retries_exhausted``,
    ``endpoint_gone``, ``invalid_webhook_secret``; it goes to news.alerts.dlq."""


@dataclass
class _Item:
    record: InputRecord
    alert: Alert
    body: bytes
    future: "asyncio.Future[None]"


@dataclass
class _Lane:
    partition: TopicPartitionKey
    subscription_id: str
    queue: deque[_Item] = field(default_factory=deque)
    task: "asyncio.Task[None] | None" = None
    # Set when its partition is revoked or the worker stops. The task is cancelled too, but a
    # lane also checks this before each attempt: a cancellation can be lost (a library that
    # turns it into a timeout, CPython gh-86296), and a lane that went on would deliver
    # alerts of a partition that another worker now owns.
    abandoned: bool = False


class WebhookDispatcher:
    """A :class:`services.runtime.dispatch.Dispatcher` delivering alerts to webhooks."""

    def __init__(
        self,
        settings: WebhookSettings,
        targets: Targets,
        on_gone: OnGone,
        ledger: ChangelogTable[LedgerEntry],
        emit: Emit,
        metrics: WorkerMetrics,
        *,
        sender: WebhookSender | None = None,
        attempts: ChangelogTable[History] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings
        self.targets = targets
        self.on_gone = on_gone
        self.ledger = ledger
        self.emit = emit
        self.metrics = metrics
        self.sender = sender or WebhookSender(settings)
        self.attempts = attempts
        self.policy = RetryPolicy(
            base_delay_seconds=settings.retry_base_delay_seconds,
            max_delay_seconds=settings.retry_max_delay_seconds,
            max_attempts=settings.retry_max_attempts,
            max_elapsed_seconds=settings.retry_max_elapsed_seconds,
        )
        self._monotonic = monotonic
        self._wall = wall
        self._jitter = jitter
        self._requests = asyncio.Semaphore(settings.max_concurrent_requests)
        self._lanes: dict[tuple[TopicPartitionKey, str], _Lane] = {}
        self._loose: dict[TopicPartitionKey, set[asyncio.Task[None]]] = {}
        self._gone: set[str] = set()
        self._planners: dict[str, DigestPlanner] = {}
        self._tasks: set[asyncio.Task[None]] = set()  # every lane and loose task, to await
        self._submitted = 0
        self._service = metrics.service

    # -- the Dispatcher protocol -------------------------------------------------------------

    def submit(self, record: InputRecord) -> "asyncio.Future[None]":
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        partition = (record.topic, record.partition)
        try:
            if record.value is None:
                raise ValueError("record has no value (a tombstone on a data topic)")
            if len(record.value) > self.settings.webhook_max_body_bytes:
                error = DeliveryFailed(
                    "record_too_large",
                    f"{len(record.value)} bytes > webhook body limit "
                    f"{self.settings.webhook_max_body_bytes}",
                )
                self._spawn_loose(partition, self._reject(record, error, future))
                return future
            alert = Alert.model_validate_json(record.value)
        except (ValidationError, ValueError) as exc:
            # include_input=False: the DLQ keeps the payload as its value.
            detail = (
                exc.json(include_url=False, include_input=False)
                if isinstance(exc, ValidationError)
                else str(exc)
            )
            error = DeliveryFailed("invalid_envelope", f"not a valid Alert: {detail}")
            self._spawn_loose(partition, self._reject(record, error, future))
            return future
        self._submitted += 1
        if self._submitted % PRUNE_PLANNERS_EVERY == 0:
            self._forget_idle_planners()
        item = _Item(record, alert, alert.model_dump_json().encode(), future)
        key = (partition, alert.subscription_id)
        lane = self._lanes.get(key)
        if lane is None:
            lane = _Lane(partition, alert.subscription_id)
            self._lanes[key] = lane
        lane.queue.append(item)
        if lane.task is None:
            lane.task = asyncio.create_task(self._run_lane(lane), name=f"lane-{key}")
            self._tasks.add(lane.task)
            lane.task.add_done_callback(self._tasks.discard)
        return future

    def abandon(self, partitions: set[TopicPartitionKey]) -> None:
        for key, lane in list(self._lanes.items()):
            if lane.partition in partitions:
                lane.abandoned = True
                if lane.task is not None:
                    lane.task.cancel()
                for item in lane.queue:
                    item.future.cancel()
                del self._lanes[key]
        for partition in partitions:
            for task in self._loose.pop(partition, set()):
                task.cancel()

    async def close(self) -> None:
        self.abandon({lane.partition for lane in self._lanes.values()} | set(self._loose))
        # Let cancelled attempts unwind (close their connections) before the session goes.
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.sender.close()

    # -- lanes -------------------------------------------------------------------------------

    def _spawn_loose(self, partition: TopicPartitionKey, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        tasks = self._loose.setdefault(partition, set())
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def _reject(
        self, record: InputRecord, error: DeliveryFailed, future: "asyncio.Future[None]"
    ) -> None:
        try:
            await self.emit([self._dead_letter_record(record, error)])
        except Exception as exc:
            if not future.done():
                future.set_exception(exc)
            return
        log.warning("alert_dead_lettered", reason=error.reason, offset=record.offset)
        self.metrics.webhook_deliveries.labels(self._service, "dead_letter").inc()
        self.metrics.dead_letters.labels(self._service, error.reason).inc()
        if not future.done():
            future.set_result(None)

    async def _run_lane(self, lane: _Lane) -> None:
        try:
            while lane.queue and not lane.abandoned:
                head = lane.queue[0]
                structlog.contextvars.bind_contextvars(
                    subscription_id=lane.subscription_id,
                    alert_id=head.alert.alert_id,
                    article_id=head.alert.article_id,
                )
                trace = from_headers(head.record.headers)
                if trace is not None:
                    structlog.contextvars.bind_contextvars(trace_id=trace.trace_id)
                else:
                    structlog.contextvars.unbind_contextvars("trace_id")
                await self._step(lane)
        except Exception as exc:
            # A bug or an outage (the broker refused a write): the loop must stop, so every
            # waiting alert's future fails and nothing past them is committed.
            log.exception("lane_failed", subscription_id=lane.subscription_id)
            for item in lane.queue:
                if not item.future.done():
                    item.future.set_exception(exc)
            lane.queue.clear()
        finally:
            key = (lane.partition, lane.subscription_id)
            if self._lanes.get(key) is lane and not lane.queue:
                del self._lanes[key]

    def _finish(self, lane: _Lane, items: list[_Item], outcome: str) -> None:
        for item in items:
            if item in lane.queue:
                lane.queue.remove(item)
            if not item.future.done():
                item.future.set_result(None)
            self.metrics.webhook_deliveries.labels(self._service, outcome).inc()

    async def _step(self, lane: _Lane) -> None:
        head = lane.queue[0]
        alert = head.alert
        target = self.targets(alert.subscription_id)
        if target is None:
            self._finish(lane, [head], "no_webhook")
            return
        if not target.enabled or alert.subscription_id in self._gone:
            self._finish(lane, [head], "disabled")
            return
        entry = self.ledger.get(alert.alert_id)
        if entry is not None:
            if entry.state == "done":
                self._finish(lane, [head], "already_done")
                return
            digest = self.ledger.get(entry.webhook_id)
            if digest is not None and digest.members:
                await self._resume_digest(lane, head, digest)
                return
        planner = self._planner(alert.subscription_id, target)
        # The head (possibly with a plan whose digest entry expired) and the alerts behind it
        # that nothing was planned for yet.
        fresh = [head]
        for item in list(lane.queue)[1:]:
            if self.ledger.get(item.alert.alert_id) is not None:
                break
            fresh.append(item)
        count, wait = planner.next_send(self._monotonic(), len(fresh))
        if count == 0:
            await asyncio.sleep(wait)
            return
        group = _fitting(fresh[:count], self.settings.webhook_max_body_bytes)
        if len(group) == 1:
            await self._deliver(lane, alert.alert_id, head.body, group, ())
            return
        ids = [item.alert.alert_id for item in group]
        webhook_id = digest_id(ids)
        body = (
            AlertDigest(
                digest_id=webhook_id,
                subscription_id=alert.subscription_id,
                alerts=[item.alert for item in group],
            )
            .model_dump_json()
            .encode()
        )
        # 1. The plan is acknowledged before the first attempt: read again, these alerts are
        #    re-sent in this digest only (services/notify/ledger.py).
        now_ms = int(self._wall() * 1000)
        plan = [self.ledger.put(i, LedgerEntry("planned", webhook_id, at_ms=now_ms)) for i in ids]
        plan.append(
            self.ledger.put(
                webhook_id,
                LedgerEntry("planned", webhook_id, tuple(ids), at_ms=now_ms, body=body.decode()),
            )
        )
        await self.emit(plan)
        self.metrics.webhook_digests.labels(self._service).inc()
        log.info("digest_planned", webhook_id=webhook_id, alerts=len(ids))
        await self._deliver(lane, webhook_id, body, group, tuple(ids))

    async def _resume_digest(self, lane: _Lane, head: _Item, digest: LedgerEntry) -> None:
        """``head`` belongs to a digest planned before a restart: re-send that digest as it
        was, or finish ``head`` the way the digest finished."""
        if digest.state == "planned":
            present = [i for i in lane.queue if i.alert.alert_id in digest.members]
            log.info("digest_resumed", webhook_id=digest.webhook_id, present=len(present))
            await self._deliver(
                lane, digest.webhook_id, digest.body.encode(), present, digest.members
            )
        elif digest.outcome in ("delivered", "disabled"):
            await self._settle(lane, [head], "already_done", None)
        else:
            reason = digest.outcome or "webhook_retries_exhausted"
            error = DeliveryFailed(reason, f"its digest {digest.webhook_id} ended {reason}")
            await self._settle(lane, [head], "dead_letter", error)

    def _planner(self, subscription_id: str, target: WebhookTarget) -> DigestPlanner:
        """The subscription's planner. It outlives lanes (a lane ends when its queue is
        empty; the bucket must not refill just because alerts came one at a time), and is
        rebuilt when the target's rate or burst changes."""
        rate = target.rate_per_minute or self.settings.rate_per_minute
        burst = target.burst or self.settings.burst
        planner = self._planners.get(subscription_id)
        if planner is None or (planner.bucket.rate_per_second, planner.bucket.burst) != (
            rate / 60.0,
            burst,
        ):
            planner = DigestPlanner(
                TokenBucket(rate / 60.0, burst), self.settings.digest_max_alerts
            )
            self._planners[subscription_id] = planner
        return planner

    def _forget_idle_planners(self) -> None:
        # A planner whose bucket has refilled is the same as a new one: dropping it keeps
        # memory to the subscriptions that were busy lately.
        now = self._monotonic()
        busy = {lane.subscription_id for lane in self._lanes.values()}
        for subscription_id, planner in list(self._planners.items()):
            if subscription_id not in busy and planner.bucket.is_full(now):
                del self._planners[subscription_id]

    # -- one webhook, with retries -----------------------------------------------------------

    async def _deliver(
        self,
        lane: _Lane,
        webhook_id: str,
        body: bytes,
        items: list[_Item],
        members: tuple[str, ...],
    ) -> None:
        subscription_id = lane.subscription_id
        attempt, elapsed, wait = self._resumed(subscription_id, webhook_id)
        started = self._monotonic() - elapsed
        if attempt:
            log.info(
                "webhook_resumed",
                webhook_id=webhook_id,
                attempts_made=attempt,
                elapsed=round(elapsed, 3),
                waiting=round(wait, 3),
            )
            await asyncio.sleep(wait)
        trace = _request_trace(items)
        # A digest carries the first alert's trace; the others are named on the log lines.
        traces = sorted({t.trace_id for i in items if (t := from_headers(i.record.headers))})
        named: dict[str, Any] = {"trace_ids": traces} if len(traces) > 1 else {}
        while not lane.abandoned:
            target = self.targets(subscription_id)
            if target is None or not target.enabled or subscription_id in self._gone:
                # Deleted or disabled while we were retrying: the subscriber wants no more.
                await self._settle(lane, items, "disabled", None, webhook_id, members)
                return
            attempt += 1
            try:
                headers = signed_headers(target.secret, webhook_id, int(self._wall()), body)
            except InvalidSecret as exc:
                error = DeliveryFailed("invalid_webhook_secret", str(exc))
                await self._settle(lane, items, "dead_letter", error, webhook_id, members)
                return
            # Each attempt is its own span of the alert's trace, so the receiver's logs join ours.
            span = trace.child()
            headers[TRACEPARENT] = span.header_value()
            if span.state:
                headers[TRACESTATE] = span.state.decode("ascii")
            async with self._requests:
                result = await self.sender.post(target.url, body, headers)
            self.metrics.webhook_attempts.labels(self._service, result.result_class).inc()
            if not result.refused:
                self.metrics.webhook_request_seconds.labels(self._service).observe(result.seconds)
            retry_after = parse_retry_after(result.retry_after, datetime.now(UTC))
            delay = self.policy.next_delay(attempt, self._jitter(), retry_after)
            verdict = self.policy.decide(result.status, attempt, self._monotonic() - started, delay)
            log.info(
                "webhook_attempt",
                webhook_id=webhook_id,
                trace_id=trace.trace_id,
                **named,
                attempt=attempt,
                status=result.status,
                error=result.error,
                verdict=str(verdict),
                next_delay=round(delay, 3) if verdict == Verdict.retry else None,
                alerts=len(items),
            )
            now_ms = int(self._wall() * 1000)
            recorded = self._attempt_record(
                subscription_id,
                Attempt(
                    at_ms=now_ms,
                    webhook_id=webhook_id,
                    attempt=attempt,
                    status=result.status,
                    result=result.result_class,
                    error=short_error(result.error),
                    verdict=verdict.value,
                    next_attempt_ms=now_ms + int(delay * 1000)
                    if verdict == Verdict.retry
                    else None,
                    alerts=len(items),
                ),
            )
            if verdict == Verdict.delivered:
                await self._settle(lane, items, "delivered", None, webhook_id, members, recorded)
                return
            if verdict == Verdict.gone:
                await self._gone_endpoint(lane, items, webhook_id, members, recorded)
                return
            if verdict == Verdict.exhausted:
                error = DeliveryFailed(
                    "webhook_retries_exhausted",
                    f"{attempt} attempts over {self._monotonic() - started:.1f}s; "
                    f"last: {result.describe()}",
                )
                await self._settle(lane, items, "dead_letter", error, webhook_id, members, recorded)
                return
            if recorded:
                await self.emit(recorded)  # acknowledged before the wait, so the page shows it
            await asyncio.sleep(delay)

    def _resumed(self, subscription_id: str, webhook_id: str) -> tuple[int, float, float]:
        """(attempts already made, seconds since the first, seconds still to wait) of a
        webhook that this worker before a restart, or the partition's previous owner, was
        retrying, from the attempts table: numbering, the retry budget and the backoff carry
        on where they were instead of starting over (a crash-looping worker would otherwise
        retry for ever). (0, 0, 0) for a webhook never tried. The history keeps the newest
        attempts only (attempts.LIMIT), so after very many the budget's start is the oldest
        one kept."""
        if self.attempts is None:
            return 0, 0.0, 0.0
        earlier = [
            a
            for a in self.attempts.get(subscription_id) or ()
            if a.webhook_id == webhook_id and not a.test
        ]
        if not earlier:
            return 0, 0.0, 0.0
        now_ms = int(self._wall() * 1000)
        last = max(earlier, key=lambda a: a.attempt)
        first_ms = min(a.at_ms for a in earlier)
        due_ms = last.next_attempt_ms if last.next_attempt_ms is not None else now_ms
        wait = min(max(0.0, (due_ms - now_ms) / 1000), self.policy.max_delay_seconds)
        return last.attempt, max(0.0, (now_ms - first_ms) / 1000), wait

    def _attempt_record(self, subscription_id: str, attempt: Attempt) -> list[OutRecord]:
        """The attempts table's write for ``attempt`` (none without a table). Read-modify-
        write of the history is safe: only this worker writes this key, as it owns the
        subscription's news.alerts partition (alerts are keyed by subscription id), and its
        lanes run one webhook at a time per subscription. After a rebalance the new owner
        has followed the old one's writes (tens of ms) long before its first attempt."""
        if self.attempts is None:
            return []
        before = self.attempts.get(subscription_id) or ()
        return [self.attempts.put(subscription_id, appended(before, attempt))]

    async def _gone_endpoint(
        self,
        lane: _Lane,
        items: list[_Item],
        webhook_id: str,
        members: tuple[str, ...],
        recorded: list[OutRecord],
    ) -> None:
        subscription_id = lane.subscription_id
        first = subscription_id not in self._gone
        self._gone.add(subscription_id)
        if first:
            self.metrics.webhook_endpoints_disabled.labels(self._service).inc()
            log.warning("webhook_endpoint_gone", subscription_id=subscription_id)
            await self.on_gone(subscription_id, "receiver answered 410 Gone")
        error = DeliveryFailed("endpoint_gone", "the receiver answered 410 Gone")
        await self._settle(lane, items, "gone", error, webhook_id, members, recorded)

    async def _settle(
        self,
        lane: _Lane,
        items: list[_Item],
        outcome: str,
        error: DeliveryFailed | None,
        webhook_id: str | None = None,
        members: tuple[str, ...] = (),
        recorded: list[OutRecord] | None = None,
    ) -> None:
        """Writes the terminal outcome (ledger, dead letters, the last attempt's record in
        the attempts table), waits for the broker's acks, then finishes ``items`` (their
        offsets may be committed from then on)."""
        now_ms = int(self._wall() * 1000)
        state = error.reason if error is not None else outcome
        records: list[OutRecord] = list(recorded or ())
        if error is not None:
            records += [self._dead_letter_record(i.record, error) for i in items]
        for item in items:
            entry = LedgerEntry("done", webhook_id or item.alert.alert_id, (), state, now_ms)
            records.append(self.ledger.put(item.alert.alert_id, entry))
        if members and webhook_id:
            records.append(
                self.ledger.put(webhook_id, LedgerEntry("done", webhook_id, members, state, now_ms))
            )
        await self.emit(records)
        if error is not None:
            self.metrics.dead_letters.labels(self._service, error.reason).inc()
            log.warning("alert_dead_lettered", reason=error.reason, alerts=len(items))
        elif outcome == "delivered":
            log.info("alert_delivered", webhook_id=webhook_id, alerts=len(items))
            latency = self.metrics.webhook_delivery_seconds.labels(self._service)
            for item in items:
                latency.observe(max(0.0, now_ms - item.record.timestamp) / 1000)
        self._finish(lane, items, outcome)

    def _dead_letter_record(self, record: InputRecord, error: DeliveryFailed) -> OutRecord:
        where = SourcePosition(record.topic, record.partition, record.offset, record.timestamp)
        headers = dead_letter_headers(record.headers, error, self._service, where)
        assert topics.ALERTS.dlq is not None
        return OutRecord(topics.ALERTS.dlq, record.key, record.value or b"", headers)


def _request_trace(items: list[_Item]) -> TraceParent:
    """The trace a webhook request continues: its (first) alert's, or a new one for an
    alert that came without a valid ``traceparent``."""
    for item in items[:1]:
        found = from_headers(item.record.headers)
        if found is not None:
            return found
    return new_trace()


def _fitting(items: list[_Item], max_bytes: int) -> list[_Item]:
    """The leading items whose bodies fit one digest of ``max_bytes`` (at least one; the
    digest envelope is small next to the alerts)."""
    taken: list[_Item] = []
    size = 0
    for item in items:
        size += len(item.body) + 1
        if taken and size > max_bytes:
            break
        taken.append(item)
    return taken


def load_targets(path: Path) -> dict[str, WebhookTarget]:
    """Static webhook targets from YAML or JSON: ``{subscription_id: {url, secret, enabled?,
    rate_per_minute?, burst?}}``. Refuses malformed secrets and URLs at load."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of subscription id to target")
    targets: dict[str, WebhookTarget] = {}
    for subscription_id, spec in data.items():
        if not isinstance(spec, dict):
            raise ValueError(f"{path}: target {subscription_id!r} is not a mapping")
        target = WebhookTarget(
            url=str(spec["url"]),
            secret=str(spec["secret"]),
            enabled=bool(spec.get("enabled", True)),
            rate_per_minute=spec.get("rate_per_minute"),
            burst=spec.get("burst"),
        )
        secret_key(target.secret)
        shape = url_shape_refusal(target.url)
        if shape:
            raise ValueError(f"{path}: target {subscription_id!r}: {shape}")
        targets[str(subscription_id)] = target
    return targets


def subscription_target(sub: Subscription | None) -> WebhookTarget | None:
    """A subscription's webhook as delivery needs it (None: no webhook); a subscription that
    is not active keeps its target, disabled, so its alerts are recorded as such."""
    if sub is None or sub.delivery.webhook is None:
        return None
    hook = sub.delivery.webhook
    return WebhookTarget(url=hook.url, secret=hook.secret, enabled=sub.status == "active")


async def run_delivery(
    settings: DeliverySettings,
    targets: Targets,
    on_gone: OnGone,
    *,
    tables: tuple[Any, ...] = (),
    stop: asyncio.Event | None = None,
    handle_signals: bool = False,
    registry: CollectorRegistry | None = None,
) -> None:
    """Runs the webhook delivery worker (group ``newswire-deliver``) until ``stop``."""
    webhook = settings.notify
    ledger = ledger_table(webhook.retry_max_elapsed_seconds + 2 * 24 * 3600)
    # Every attempt, for the console's Delivery page (GET /v1/subscriptions/{id}/deliveries):
    # at most 20 per subscription (~5 KB), dropped 3 days after the last one.
    attempts = attempts_table()

    async def make(emitter: Emitter, metrics: WorkerMetrics) -> Dispatcher:
        return WebhookDispatcher(
            webhook, targets, on_gone, ledger, emitter.emit, metrics, attempts=attempts
        )

    await run_dispatch(
        "deliver",
        topics.ALERTS,
        settings,
        make,
        max_pending=webhook.max_pending_per_partition,
        tables=(ledger, attempts, *tables),
        stop=stop,
        handle_signals=handle_signals,
        registry=registry,
    )
