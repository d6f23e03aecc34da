"""The chaos harness (issue 8): the corpus through ingest → enrich → notify (→ deliver) on a
private broker while faults are injected, then an exact count of every output topic and DLQ.

One :class:`Harness` owns one broker (its own state directory and port: scenarios 2 and 5 kill
or stop it) and runs scenarios one after another, each on a fresh topic prefix. Workers are
real ``newswire <service>`` processes (:class:`WorkerProcess`); a supervisor restarts one that
exits on its own, as an orchestrator would, and counts it. Every wait is bounded.
"""

import asyncio
import contextlib
import json
import random
import shutil
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from schemas import topics
from schemas.enriched import EnrichedArticle
from schemas.subscription import Delivery, Subscription, WebhookTarget
from services.notify.store import SubscriptionStore
from services.notify.subscriptions import SubscriptionIndex, alert_id
from services.notify.webhooks import generate_secret
from services.runtime import dlq
from services.runtime.io import read_topic
from services.runtime.kafka import delete_prefixed_topics, ensure_newswire_topics, topic_partitions
from services.runtime.local import LocalBroker, WorkerProcess, start_broker
from services.runtime.settings import KafkaSettings
from tests.chaos.corpus import Corpus
from tests.chaos.receiver import FlakyReceiver

GUARANTEES = ("at_least_once", "exactly_once")
SCENARIOS = ("worker_kills", "broker_kills", "zombie", "scale", "broker_outage", "webhook")
# Each stage's input and output topic (deliver's output is the receiver, counted apart).
INPUT = {"ingest": topics.RAW.name, "enrich": topics.ARTICLES.name, "notify": topics.ENRICHED.name}
OUTPUT = {
    "ingest": topics.ARTICLES.name,
    "enrich": topics.ENRICHED.name,
    "notify": topics.ALERTS.name,
}
DLQS = ("news.raw.dlq", "news.articles.dlq", "news.enriched.dlq", "news.alerts.dlq")
SESSION_TIMEOUT_S = 10.0  # KafkaSettings.session_timeout_ms's default, which workers keep


def _now() -> float:
    return time.monotonic()


@dataclass
class Fault:
    """One injected fault: when it began, when the harness undid it, and when the watched
    topic grew again (recovery = recovered - restored; None: nothing flowed afterwards)."""

    kind: str
    target: str
    at: float
    restored: float | None = None
    recovered: float | None = None
    note: str = ""

    @property
    def recovery_s(self) -> float | None:
        if self.recovered is None or self.restored is None:
            return None
        return max(0.0, self.recovered - self.restored)


@dataclass
class TopicCount:
    """Per-id counts of one output set against what was expected."""

    expected: int
    records: int
    lost: int
    duplicated: int  # extra copies of expected ids
    unexpected: int  # ids nobody expected
    lost_ids: list[str] = field(default_factory=list)


@dataclass
class Result:
    scenario: str
    guarantee: str
    inputs: int
    counts: dict[str, TopicCount]
    dlq_reason_mismatches: int
    faults: list[Fault]
    unplanned_restarts: list[str]
    elapsed_s: float
    notes: list[str] = field(default_factory=list)
    failed_checks: list[str] = field(default_factory=list)  # a scenario's own targets

    @property
    def lost(self) -> int:
        return sum(c.lost for c in self.counts.values())

    @property
    def duplicated(self) -> int:
        return sum(c.duplicated for c in self.counts.values())

    @property
    def unexpected(self) -> int:
        return sum(c.unexpected for c in self.counts.values())

    @property
    def recovery_s(self) -> float | None:
        values = [f.recovery_s for f in self.faults if f.recovery_s is not None]
        return max(values) if values else None

    def missed(self) -> list[str]:
        """Targets this run missed: 0 lost and nothing unexpected always, and 0 duplicated
        and every dead letter with its reason in exactly-once mode."""
        out = []
        if self.lost:
            out.append(f"{self.lost} lost")
        if self.unexpected:
            out.append(f"{self.unexpected} unexpected")
        if self.dlq_reason_mismatches:
            out.append(f"{self.dlq_reason_mismatches} dead letters with the wrong reason")
        if self.guarantee == "exactly_once" and self.duplicated:
            out.append(f"{self.duplicated} duplicated")
        return out + self.failed_checks

    def as_json(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(
            lost=self.lost,
            duplicated=self.duplicated,
            unexpected=self.unexpected,
            recovery_s=self.recovery_s,
            missed=self.missed(),
        )
        for f, fd in zip(self.faults, d["faults"], strict=True):
            fd["recovery_s"] = f.recovery_s
        return d


def table(results: list[Result]) -> str:
    head = (
        f"{'scenario':<14} {'mode':<13} {'inputs':>7} {'articles':>8} {'enriched':>8} "
        f"{'alerts':>7} {'lost':>5} {'dup':>5} {'unexp':>5} {'DLQ':>9} {'recovery s':>10} "
        f"{'restarts':>8} {'time s':>7}"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        c = r.counts
        dead = c["news.raw.dlq"]
        rec = f"{r.recovery_s:.1f}" if r.recovery_s is not None else "-"
        lines.append(
            f"{r.scenario:<14} {r.guarantee:<13} {r.inputs:>7} {c['articles'].records:>8} "
            f"{c['enriched'].records:>8} {c['alerts'].records:>7} {r.lost:>5} {r.duplicated:>5} "
            f"{r.unexpected:>5} {f'{dead.records}/{dead.expected}':>9} {rec:>10} "
            f"{len(r.unplanned_restarts):>8} {r.elapsed_s:>7.0f}"
        )
        if "deliveries" in c:
            d = c["deliveries"]
            lines.append(
                f"{'':<14} deliveries: {d.records} accepted for {d.expected} alerts, "
                f"lost {d.lost}, duplicated {d.duplicated}"
            )
        for note in r.notes:
            lines.append(f"{'':<14} {note}")
        for failed in r.failed_checks:
            lines.append(f"{'':<14} MISSED: {failed}")
    return "\n".join(lines)


def count(expected: set[str], seen: Counter[str], keep_lost: int = 20) -> TopicCount:
    lost = sorted(expected - seen.keys())
    return TopicCount(
        expected=len(expected),
        records=sum(seen.values()),
        lost=len(lost),
        duplicated=sum(n - 1 for i, n in seen.items() if i in expected and n > 1),
        unexpected=sum(n for i, n in seen.items() if i not in expected),
        lost_ids=lost[:keep_lost],
    )


def subscriptions(webhook_url: str | None) -> list[Subscription]:
    """What notify matches: a taxonomy topic, a boolean query and a phrase; only the first
    has a webhook (scenario 6), so deliver's load stays near a third of the articles."""
    now = datetime.now(UTC)
    specs = [
        ("chaos-guarantees", None, ["ukraine-security-guarantees"], True),
        ("chaos-freight", "freight AND rates", [], False),
        ("chaos-ports", '"port volumes"', [], False),
    ]
    out = []
    for sub_id, query, tags, hooked in specs:
        hook = (
            WebhookTarget(url=webhook_url + sub_id, secret=generate_secret())
            if hooked and webhook_url
            else None
        )
        out.append(
            Subscription(
                id=sub_id,
                owner="chaos",
                name=sub_id,
                query=query,
                topics=tags,
                delivery=Delivery(webhook=hook),
                created_at=now,
                updated_at=now,
                version=1,
            )
        )
    return out


async def _closed(consumer: AIOKafkaConsumer | None, admin: AIOKafkaAdminClient | None) -> None:
    """Stops both clients, each within 5 s: this also runs after a timeout cancelled their
    start, and a client stopping against a dead broker must not hang the harness (it did)."""
    for stop in (
        consumer.stop() if consumer is not None else None,
        admin.close() if admin is not None else None,
    ):
        if stop is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(stop, 5)


class Offsets:
    """End offsets and committed group offsets, asked of the broker without reading records.
    Every call answers None while the broker is unreachable."""

    def __init__(self, bootstrap: str, prefix: str) -> None:
        self.bootstrap = bootstrap
        self.prefix = prefix
        self._consumer: AIOKafkaConsumer | None = None
        self._admin: AIOKafkaAdminClient | None = None
        self._tps: dict[str, list[TopicPartition]] = {}
        self._lock = asyncio.Lock()

    async def _clients(self) -> tuple[AIOKafkaConsumer, AIOKafkaAdminClient]:
        # One pair shared by every watcher: the lock keeps two of them from each starting one.
        async with self._lock:
            if self._consumer is None or self._admin is None:
                consumer = AIOKafkaConsumer(
                    bootstrap_servers=self.bootstrap,
                    request_timeout_ms=5000,
                    enable_auto_commit=False,
                )
                admin = AIOKafkaAdminClient(
                    bootstrap_servers=self.bootstrap, request_timeout_ms=5000
                )
                try:
                    await consumer.start()
                    await admin.start()
                except BaseException:
                    await _closed(consumer, admin)
                    raise
                self._consumer, self._admin = consumer, admin
            return self._consumer, self._admin

    async def _reset(self) -> None:
        consumer, admin = self._consumer, self._admin
        self._consumer = self._admin = None
        # A new consumer knows no topic's leaders until asked (topic_partitions refreshes its
        # metadata); without this, end_offsets on the cached partitions timed out forever.
        self._tps.clear()
        await _closed(consumer, admin)

    async def end(self, topic: str) -> int | None:
        """Sum of the end offsets of ``topic`` (unprefixed name)."""
        try:
            async with asyncio.timeout(8):
                consumer, _ = await self._clients()
                name = self.prefix + topic
                if name not in self._tps:
                    self._tps[name] = await topic_partitions(consumer, name)
                ends = await consumer.end_offsets(self._tps[name])
                return int(sum(ends.values()))
        except (KafkaError, OSError, TimeoutError, ValueError):
            await self._reset()
            return None

    async def committed(self, service: str) -> int | None:
        """Sum of the offsets the stage's group committed on its input topic."""
        try:
            async with asyncio.timeout(8):
                _, admin = await self._clients()
                offsets = await admin.list_consumer_group_offsets(
                    f"{self.prefix}newswire-{service}"
                )
                name = self.prefix + INPUT[service]
                return sum(max(0, int(om.offset)) for tp, om in offsets.items() if tp.topic == name)
        except (KafkaError, OSError, TimeoutError, ValueError):
            await self._reset()
            return None

    async def close(self) -> None:
        await self._reset()


@dataclass
class Managed:
    """A worker the supervisor keeps running while ``wanted``."""

    service: str
    env: dict[str, str]
    process: WorkerProcess
    wanted: bool = True
    restarts: int = 0
    failures: int = 0  # exits in a row, each within 30 s of its start
    started_at: float = field(default_factory=time.monotonic)


class Scenario:
    """One scenario's workers, topics, faults and checks."""

    def __init__(
        self, harness: "Harness", name: str, workers: dict[str, int], deliver: bool = False
    ) -> None:
        self.h = harness
        self.name = name
        self.prefix = f"chaos{uuid.uuid4().hex[:8]}."
        self.initial = workers
        self.logs = harness.workdir / name
        self.rng = random.Random(f"{harness.seed}-{name}")
        self.managed: list[Managed] = []
        self.faults: list[Fault] = []
        self.unplanned: list[str] = []
        self.notes: list[str] = []
        self.failed: list[str] = []
        self.receiver = FlakyReceiver() if deliver else None
        self.offsets = Offsets(harness.bootstrap, self.prefix)
        self._spawned: Counter[str] = Counter()
        self._supervising = True

    # --- workers ------------------------------------------------------------------------

    def env_for(self, service: str) -> dict[str, str]:
        env = {
            "NEWSWIRE_PROCESSING_GUARANTEE": self.h.guarantee,
            "NEWSWIRE_LOG_LEVEL": "info",
            "NEWSWIRE_LAG_PROBE_SECONDS": "0.5",
            "NEWSWIRE_API__PORT": "0",
        }
        if service == "deliver":
            env.update(
                {
                    "NEWSWIRE_NOTIFY__WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
                    "NEWSWIRE_NOTIFY__WEBHOOK_TIMEOUT_SECONDS": "1",
                    "NEWSWIRE_NOTIFY__WEBHOOK_CONNECT_TIMEOUT_SECONDS": "1",
                    "NEWSWIRE_NOTIFY__RETRY_BASE_DELAY_SECONDS": "0.2",
                    "NEWSWIRE_NOTIFY__RETRY_MAX_DELAY_SECONDS": "2",
                    # No digests: each alert is its own delivery (digests are counted anyway).
                    "NEWSWIRE_NOTIFY__RATE_PER_MINUTE": "1000000",
                    "NEWSWIRE_NOTIFY__BURST": "100000",
                }
            )
        return env

    def _process(self, service: str, env: dict[str, str]) -> WorkerProcess:
        n = self._spawned[service]
        self._spawned[service] += 1
        worker = WorkerProcess(
            service, self.h.bootstrap, self.prefix, self.logs / f"{service}-{n}.log", env=env
        )
        worker.start()
        return worker

    def spawn(self, service: str) -> Managed:
        env = self.env_for(service)
        m = Managed(service, env, self._process(service, env))
        self.managed.append(m)
        return m

    def live(self, service: str) -> list[Managed]:
        return [m for m in self.managed if m.wanted and m.service == service]

    async def supervise(self) -> None:
        """Restarts a wanted worker that exited on its own, as an orchestrator would: with a
        back-off per worker (2 s, doubling to 15 s while it keeps failing right after start,
        e.g. with the broker down), and at most 100 times a scenario."""
        due: dict[int, float] = {}  # id(Managed) -> when to start it again
        while self._supervising:
            for m in list(self.managed):
                proc = m.process.process
                if not m.wanted or proc is None or proc.poll() is None:
                    continue
                if id(m) not in due:
                    self.unplanned.append(
                        f"{m.service} exited {proc.returncode} at "
                        f"{_now() - self.started:.0f}s ({m.process.log_path.name})"
                    )
                    self.say(f"will restart: {self.unplanned[-1]}")
                    quick = _now() - m.started_at < 30
                    m.failures = m.failures + 1 if quick else 1
                    due[id(m)] = _now() + min(15.0, 2.0**m.failures)
                if len(self.unplanned) > 100:
                    m.wanted = False
                    self.notes.append(f"gave up restarting {m.service} after 100 exits")
                elif _now() >= due[id(m)]:
                    del due[id(m)]
                    m.process = self._process(m.service, m.env)
                    m.started_at = _now()
                    m.restarts += 1
            await asyncio.sleep(0.5)

    async def kill_and_restart(self, m: Managed) -> None:
        m.process.kill()
        m.process = self._process(m.service, m.env)
        m.started_at = _now()

    async def stop_worker(self, m: Managed) -> int | None:
        """SIGTERM; SIGKILL only after 45 s, past the worker's own 30 s shutdown grace, so a
        slow stop shows in its log (shutdown_timeout) rather than as our kill."""
        m.wanted = False
        return await asyncio.to_thread(m.process.stop, 45.0)

    # --- progress -----------------------------------------------------------------------

    def input_total(self, service: str) -> int:
        return len(self.h.corpus.records) if service == "ingest" else self.h.corpus.valid

    async def wait_progress(self, service: str, fraction: float, timeout: float) -> bool:
        """Until ``service``'s group has committed ``fraction`` of its input."""
        target = fraction * self.input_total(service)
        deadline = _now() + timeout
        while _now() < deadline:
            done = await self.offsets.committed(service)
            if done is not None and done >= target:
                return True
            await asyncio.sleep(0.2)
        self.notes.append(f"{service} never reached {fraction:.0%} within {timeout:.0f}s")
        return False

    async def watch_recovery(self, fault: Fault, topic: str, timeout: float = 300.0) -> None:
        """Marks ``fault`` recovered when ``topic`` grows after it was restored (times are
        seconds since the scenario started)."""
        deadline = _now() + timeout
        base: int | None = None
        while _now() < deadline:
            if fault.restored is not None:
                end = await self.offsets.end(topic)
                if end is not None:
                    if base is None:
                        base = end
                    elif end > base:
                        fault.recovered = _now() - self.started
                        return
            await asyncio.sleep(0.1)

    def say(self, message: str) -> None:
        """A progress line on stdout: what the harness is doing, seconds into the scenario."""
        print(f"  [{_now() - self.started:7.1f}s] {self.name}: {message}", flush=True)

    def fault(self, kind: str, target: str, topic: str | None) -> Fault:
        f = Fault(kind, target, _now() - self.started)
        self.say(f"fault {kind} {target}")
        self.faults.append(f)
        if topic is not None:
            self._watchers.append(asyncio.create_task(self.watch_recovery(f, topic)))
        return f

    def restored(self, f: Fault) -> None:
        f.restored = _now() - self.started
        self.say(f"restored {f.kind} {f.target}")

    # --- the run ------------------------------------------------------------------------

    async def setup(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        await ensure_newswire_topics(self.h.bootstrap, self.prefix, partitions=self.h.partitions)
        url = None
        if self.receiver is not None:
            await self.receiver.start()
            url = self.receiver.url("")
        self.subs = subscriptions(url)
        store = SubscriptionStore(KafkaSettings(bootstrap=self.h.bootstrap))
        await store.start(self.h.bootstrap, self.prefix + store.topic, "chaos-harness")
        try:
            for sub in self.subs:
                await store.put(sub)
        finally:
            await store.stop()
        for service, n in self.initial.items():
            for _ in range(n):
                self.spawn(service)
        for m in self.managed:
            await m.process.wait_ready(120)

    async def produce(self) -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.h.bootstrap,
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            max_batch_size=256 * 1024,
            max_request_size=4 * 1024 * 1024,
        )
        await producer.start()
        try:
            raw = self.prefix + topics.RAW.name
            futures = [await producer.send(raw, r.value, key=r.key) for r in self.h.corpus.records]
            await asyncio.gather(*futures)
        finally:
            await producer.stop()

    async def run(self, faults: Callable[["Scenario"], Awaitable[None]]) -> Result:
        self.started = _now()
        self._watchers: list[asyncio.Task[None]] = []
        supervisor: asyncio.Task[None] | None = None
        try:
            await self.setup()
            self.say(f"workers ready on {self.prefix}*, producing {len(self.h.corpus.records)}")
            supervisor = asyncio.create_task(self.supervise())
            produced_at = _now()
            await self.produce()
            self.notes.append(f"corpus produced in {_now() - produced_at:.1f}s")
            await asyncio.wait_for(faults(self), self.h.deadline_s)
            self.say("faults done; waiting for the outputs to settle")
            result = await self.finish()
            self.say("counted")
        finally:
            self._supervising = False
            if supervisor is not None:
                supervisor.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await supervisor
            for task in self._watchers:
                task.cancel()
            await asyncio.gather(*(asyncio.to_thread(m.process.stop) for m in self.managed))
            if self.receiver is not None:
                await self.receiver.stop()
            await self.offsets.close()
            if not self.h.keep_topics:
                await delete_prefixed_topics(self.h.bootstrap, self.prefix)
        return result

    async def _totals(self) -> tuple[int, ...] | None:
        ends = []
        for topic in (*OUTPUT.values(), *DLQS):
            end = await self.offsets.end(topic)
            if end is None:
                return None
            ends.append(end)
        if self.receiver is not None:
            ends.append(sum(self.receiver.accepted.values()))
        return tuple(ends)

    async def finish(self, settle: float = 4.0) -> Result:
        """Waits (bounded) until every expected output is there and nothing has moved for
        ``settle`` seconds, then counts exactly."""
        corpus = self.h.corpus
        deadline = self.started + self.h.deadline_s
        last: tuple[int, ...] | None = None
        stable_since = _now()
        while True:
            try:
                totals = await asyncio.wait_for(self._totals(), 60)
            except TimeoutError:
                totals = None
            if totals is None and _now() - stable_since > 30:
                self.say("the broker has not answered offset requests for 30 s")
                stable_since = _now()
            if totals != last:
                last, stable_since = totals, _now()
            enough = (
                totals is not None
                and totals[0] >= corpus.valid
                and totals[1] >= corpus.valid
                and totals[3] >= len(corpus.poison)
            )
            if enough and _now() - stable_since >= settle:
                self.say(f"settled at {totals}; reading every output")
                result = await self.check()
                if not result.lost or _now() >= deadline:
                    return result
                stable_since = _now()  # something is missing: give it more time
            elif _now() >= deadline:
                result = await self.check()
                result.notes.append(f"deadline of {self.h.deadline_s:.0f}s reached")
                return result
            await asyncio.sleep(1.0)

    async def scan(self, topic: str, each: Callable[[Any], None]) -> None:
        """Calls ``each`` on every record of ``topic`` (read_committed), without keeping them:
        100,000 enriched articles are ~0.5 GB."""

        async def everything() -> None:
            async for r in read_topic(
                self.h.bootstrap, self.prefix + topic, idle_timeout=1.5, total_timeout=600
            ):
                each(r)

        # read_topic bounds its reading, not its consumer's start against a sick broker.
        await asyncio.wait_for(everything(), 900)

    async def check(self) -> Result:
        corpus = self.h.corpus
        expected = set(corpus.expected_articles)
        articles: Counter[str] = Counter()
        await self.scan(
            OUTPUT["ingest"], lambda r: articles.update([json.loads(r.value)["article_id"]])
        )
        # Expected alerts: the pure percolator over the enriched articles actually written
        # (the first copy of each; a replayed copy matches the same subscriptions).
        index = SubscriptionIndex(self.subs)
        enriched_seen: Counter[str] = Counter()
        matched: dict[str, list[str]] = {}

        def enriched(r: Any) -> None:
            e = EnrichedArticle.model_validate_json(r.value)
            aid = e.article.article_id
            enriched_seen[aid] += 1
            if aid not in matched:
                matched[aid] = index.matching(e)

        await self.scan(OUTPUT["enrich"], enriched)
        hooked = {s.id for s in self.subs if s.delivery.webhook is not None}
        alerts_expected: set[str] = set()
        deliveries_expected: set[str] = set()
        for aid, sub_ids in matched.items():
            if aid in expected:
                for sub_id in sub_ids:
                    alerts_expected.add(alert_id(sub_id, aid))
                    if sub_id in hooked:
                        deliveries_expected.add(alert_id(sub_id, aid))
        alerts: Counter[str] = Counter()
        await self.scan(
            OUTPUT["notify"], lambda r: alerts.update([json.loads(r.value)["alert_id"]])
        )
        counts = {
            "articles": count(expected, articles),
            "enriched": count(expected, enriched_seen),
            "alerts": count(alerts_expected, alerts),
        }
        mismatches = 0
        for name in DLQS:
            keys: Counter[str] = Counter()

            def dead(r: Any, keys: Counter[str] = keys) -> None:
                nonlocal mismatches
                keys[(r.key or b"").decode("utf-8", "replace")] += 1
                poison = corpus.poison.get(r.key or b"")
                reason = dlq.header_map(r.headers).get(dlq.REASON)
                if poison is not None and reason != poison.reason:
                    mismatches += 1

            await self.scan(name, dead)
            want = {k.decode() for k in corpus.poison} if name == "news.raw.dlq" else set()
            counts[name] = count(want, keys)
        if self.receiver is not None:
            counts["deliveries"] = count(deliveries_expected, self.receiver.accepted)
            self.notes.append(f"receiver attempts by phase: {dict(self.receiver.attempts)}")
        return Result(
            scenario=self.name,
            guarantee=self.h.guarantee,
            inputs=len(corpus.records),
            counts=counts,
            dlq_reason_mismatches=mismatches,
            faults=self.faults,
            unplanned_restarts=self.unplanned,
            elapsed_s=_now() - self.started,
            notes=self.notes,
            failed_checks=self.failed,
        )


# --- fault plans (one per scenario) ---------------------------------------------------------


def _points(rng: random.Random, k: int, low: float = 0.1, high: float = 0.85) -> list[float]:
    return sorted(rng.uniform(low, high) for _ in range(k))


async def worker_kills(s: Scenario, kills: int = 3) -> None:
    """1. SIGKILL each stage's worker ``kills`` times at random points; restart at once."""

    async def stage(service: str) -> None:
        for point in _points(s.rng, kills):
            if not await s.wait_progress(service, point, s.h.deadline_s / 2):
                return
            [m] = s.live(service)
            f = s.fault("sigkill", f"{service}@{point:.0%}", OUTPUT[service])
            await s.kill_and_restart(m)
            s.restored(f)
            await m.process.wait_ready(120)

    await asyncio.gather(*(stage(service) for service in OUTPUT))


async def broker_kills(s: Scenario, kills: int = 3) -> None:
    """2. SIGKILL the broker ``kills`` times at random points of enrich's progress and start it
    again on the same data directory."""
    for point in _points(s.rng, kills):
        if not await s.wait_progress("enrich", point, s.h.deadline_s / 2):
            return
        f = s.fault("broker_sigkill", f"broker@enrich {point:.0%}", OUTPUT["enrich"])
        s.h.broker.kill()
        await asyncio.sleep(s.rng.uniform(1, 4))
        await asyncio.to_thread(s.h.broker.start)
        s.restored(f)


async def zombie(s: Scenario, service: str = "enrich") -> None:
    """3. SIGSTOP one of two workers past the session timeout; the other takes its partitions;
    then SIGCONT the zombie. Recovery: SIGSTOP until the survivor owns every partition."""
    if not await s.wait_progress(service, s.rng.uniform(0.2, 0.5), s.h.deadline_s / 2):
        return
    stopped, survivor = s.live(service)[:2]
    proc = stopped.process.process
    assert proc is not None
    f = s.fault("sigstop", f"{service} pid {proc.pid}", None)
    f.restored = f.at
    proc.send_signal(19)  # SIGSTOP
    try:
        deadline = _now() + SESSION_TIMEOUT_S * 6
        while _now() < deadline:
            owned = await survivor.process.metric("newswire_assigned_partitions")
            if owned >= s.h.partitions:
                f.recovered = _now() - s.started
                break
            await asyncio.sleep(0.25)
        else:
            f.note = "the survivor never owned every partition"
        await asyncio.sleep(2)  # the zombie stays stopped past the rebalance
    finally:
        proc.send_signal(18)  # SIGCONT
    f.note = (f.note + f"; stopped {(_now() - s.started) - f.at:.1f}s").lstrip("; ")


async def scale(s: Scenario, service: str = "enrich", to: int = 4) -> None:
    """4. One worker, then ``to`` during the run, then one again (SIGTERM: commits on revoke)."""
    up, down = sorted(s.rng.uniform(0.1, 0.7) for _ in range(2))
    if not await s.wait_progress(service, up, s.h.deadline_s / 2):
        return
    f = s.fault("scale_up", f"{service} 1→{to}@{up:.0%}", OUTPUT[service])
    added = [s.spawn(service) for _ in range(to - 1)]
    for m in added:
        await m.process.wait_ready(120)
    s.restored(f)
    if not await s.wait_progress(service, down, s.h.deadline_s / 2):
        return
    f = s.fault("scale_down", f"{service} {to}→1@{down:.0%}", OUTPUT[service])
    codes = await asyncio.gather(*(s.stop_worker(m) for m in added))
    s.restored(f)
    if any(code != 0 for code in codes):
        s.notes.append(f"scale-down exit codes {codes}")


async def broker_outage(s: Scenario) -> None:
    """5. The broker down for ``outage_s`` mid-run: every worker must stay up, report not
    ready while it is down and ready again after, without help."""
    if not await s.wait_progress("enrich", s.rng.uniform(0.3, 0.5), s.h.deadline_s / 2):
        return
    f = s.fault("broker_down", f"broker {s.h.outage_s:.0f}s", OUTPUT["enrich"])
    await asyncio.to_thread(s.h.broker.stop)
    not_ready: set[str] = set()
    end = _now() + s.h.outage_s
    while _now() < end:
        for m in s.managed:
            with contextlib.suppress(OSError, Exception):
                status, _ = await m.process.get("/readyz")
                if status == 503:
                    not_ready.add(m.process.log_path.name)
        await asyncio.sleep(1)
    await asyncio.to_thread(s.h.broker.start)
    s.restored(f)
    ready: set[str] = set()
    deadline = _now() + 180
    while _now() < deadline and len(ready) < len(s.managed):
        for m in s.managed:
            with contextlib.suppress(OSError, Exception):
                status, _ = await m.process.get("/readyz")
                if status == 200:
                    ready.add(m.process.log_path.name)
        await asyncio.sleep(0.5)
    names = sorted(m.process.log_path.name for m in s.managed)
    s.notes.append(
        f"/readyz 503 while down: {sorted(not_ready)} of {names}; 200 again: {sorted(ready)}"
    )
    if set(names) - not_ready or set(names) - ready:
        s.failed.append("readiness not observed for every worker (503 down, 200 after)")
    if s.unplanned:
        s.failed.append(f"{len(s.unplanned)} worker exits: they did not stay up")


async def webhook(s: Scenario) -> None:
    """6. The receiver hangs, then fails, then recovers (its phases run by themselves);
    recovery: from the end of the failing phase to the next accepted delivery."""
    assert s.receiver is not None
    rec = s.receiver
    deadline = _now() + s.h.deadline_s / 2
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(rec.started.wait(), s.h.deadline_s / 2)
    if rec.first_request is None:
        s.notes.append("no webhook request arrived")
        return
    f = Fault("webhook_flaky", "receiver", rec.first_request - s.started)
    s.faults.append(f)
    healthy_at = rec.first_request + rec.hang_for + rec.fail_for
    f.restored = healthy_at - s.started
    while _now() < deadline:
        if rec.last_accepted is not None and rec.last_accepted >= healthy_at:
            f.recovered = rec.last_accepted - s.started
            return
        await asyncio.sleep(0.2)


PLANS: dict[str, tuple[Callable[[Scenario], Awaitable[None]], dict[str, int], bool]] = {
    "worker_kills": (worker_kills, {"ingest": 1, "enrich": 1, "notify": 1}, False),
    "broker_kills": (broker_kills, {"ingest": 1, "enrich": 1, "notify": 1}, False),
    "zombie": (zombie, {"ingest": 1, "enrich": 2, "notify": 1}, False),
    "scale": (scale, {"ingest": 1, "enrich": 1, "notify": 1}, False),
    "broker_outage": (broker_outage, {"ingest": 1, "enrich": 1, "notify": 1}, False),
    "webhook": (webhook, {"ingest": 1, "enrich": 1, "notify": 1, "deliver": 1}, True),
}


@dataclass
class Harness:
    """A broker and the corpus, shared by the scenarios run in turn.

    The broker is a private one (its own state directory and port) unless ``bootstrap``
    names a running one, which only scenarios that leave the broker alone may use."""

    corpus: Corpus
    guarantee: str = "at_least_once"
    seed: int = 8
    partitions: int = 4
    outage_s: float = 120.0
    deadline_s: float = 600.0
    keep_topics: bool = False
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="newswire-chaos-")))
    shared_bootstrap: str | None = None
    _broker: LocalBroker | None = None

    async def __aenter__(self) -> "Harness":
        if self.shared_bootstrap is None:
            state = self.workdir / "broker"
            self._broker = await asyncio.to_thread(start_broker, state, self.partitions)
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._broker is not None:
            await asyncio.to_thread(self._broker.stop)

    @property
    def broker(self) -> LocalBroker:
        if self._broker is None:
            raise RuntimeError("this scenario stops the broker: it needs the harness's own")
        return self._broker

    @property
    def bootstrap(self) -> str:
        if self.shared_bootstrap is not None:
            return self.shared_bootstrap
        return self.broker.bootstrap

    async def run(self, name: str) -> Result:
        plan, workers, deliver = PLANS[name]
        return await Scenario(self, name, workers, deliver).run(plan)

    def cleanup(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)
