"""``newswire demo``: a real broker, the three workers as processes, sample articles → alerts."""

import asyncio
import contextlib
import os
import time
from pathlib import Path

from schemas import topics
from schemas.alert import Alert
from services.notify.seed import load_seed
from services.notify.settings import DEFAULT_SUBSCRIPTIONS
from services.runtime import dlq
from services.runtime.dlq import header_map
from services.runtime.io import produce_raw, raw_event_from_file, read_topic
from services.runtime.kafka import ensure_newswire_topics
from services.runtime.local import REPO_ROOT, WorkerProcess, running_broker, start_broker
from services.runtime.settings import KafkaSettings, RuntimeSettings

SAMPLES = Path(__file__).parent / "samples"
SERVICES = ("ingest", "enrich", "notify")


def sample_files() -> list[Path]:
    return sorted(SAMPLES.glob("*.txt"))


async def consumed(worker: WorkerProcess) -> dict[str, float]:
    """The worker's records consumed, by outcome, from its own /metrics."""
    return {
        outcome: await worker.metric("newswire_records_consumed_total", outcome=outcome)
        for outcome in ("ok", "dropped", "dead_letter")
    }


def show_alert(alert: Alert) -> None:
    s = alert.sentiment
    print(f"\n  ALERT  [{alert.subscription_name}]")
    print(f"    {alert.title}")
    print(
        f"    source {alert.source} · published {alert.published_at:%Y-%m-%d %H:%M} UTC"
        f" · sentiment {s.score:+.2f} ({s.label})"
    )
    print(f"    topics {', '.join(alert.matched_topics)} · terms {', '.join(alert.matched_terms)}")
    print(f"    article {alert.article_id} · alert {alert.alert_id}", flush=True)


async def run_demo(timeout: float = 120.0) -> int:
    deadline = time.monotonic() + timeout
    print("newswire demo: real Apache Kafka, three worker processes, sample articles\n")
    broker = None
    bootstrap = os.environ.get("NEWSWIRE_KAFKA__BOOTSTRAP")
    if not bootstrap:
        broker = running_broker()
        if broker is None:
            print("  starting the local Kafka broker (deploy/local/kafka start) ...", flush=True)
            broker = start_broker()
            started_broker = True
        else:
            started_broker = False
        bootstrap = broker.bootstrap
    print(f"  broker   {bootstrap}")

    # A fresh prefix per run: every run starts from empty topics and new consumer groups.
    prefix = f"demo-{int(time.time())}."
    log_dir = REPO_ROOT / ".cache" / "demo" / prefix.rstrip(".")
    workers = [WorkerProcess(s, bootstrap, prefix, log_dir / f"{s}.log") for s in SERVICES]
    code = 1
    try:
        await ensure_newswire_topics(bootstrap, prefix)
        # Subscriptions live in news.subscriptions only; the demo's one is the seed file's.
        seed = await load_seed(
            RuntimeSettings(kafka=KafkaSettings(bootstrap=bootstrap), topic_prefix=prefix),
            DEFAULT_SUBSCRIPTIONS,
            owner="demo",
        )
        print(f"  seeded   {', '.join(seed.written)} into {prefix}{topics.SUBSCRIPTIONS.name}")
        for w in workers:
            w.start()
        await asyncio.gather(
            *(w.wait_ready(max(5.0, deadline - time.monotonic())) for w in workers)
        )
        for w in workers:
            print(f"  {w.service:<8} ready · {w.url}/metrics · log {w.log_path}")

        files = sample_files()
        kafka = KafkaSettings(bootstrap=bootstrap)
        events = [raw_event_from_file(f, source="demo-samples") for f in files]
        await produce_raw(kafka, prefix + topics.RAW.name, events)
        print(f"\n  produced {len(files)} raw articles to {prefix}{topics.RAW.name}:")
        for f in files:
            print(f"    - {f.name}")

        alerts: list[Alert] = []

        async def watch() -> None:
            async for record in read_topic(
                bootstrap, prefix + topics.ALERTS.name, idle_timeout=timeout, total_timeout=timeout
            ):
                alert = Alert.model_validate_json(record.value)
                alerts.append(alert)
                show_alert(alert)

        watcher = asyncio.create_task(watch())
        ingest, enrich, notify = workers
        while time.monotonic() < deadline:
            got = await consumed(ingest)
            articles = got.get("ok", 0.0)
            if (
                sum(got.values()) >= len(files)
                and (await consumed(enrich)).get("ok", 0) >= articles
            ):
                notified = await consumed(notify)
                if sum(notified.values()) >= articles:
                    break
            await asyncio.sleep(0.3)
        else:
            print("\n  timed out waiting for the pipeline; see the worker logs above")
            watcher.cancel()
            return 1
        if watcher.done():
            watcher.result()  # the alert reader failed: raise its error
        # notify has processed every article; its alerts were acknowledged before its
        # offsets moved, so a short quiet period drains them all.
        await asyncio.sleep(1.5)
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher

        dead = (
            [r async for r in read_topic(bootstrap, prefix + topics.RAW.dlq, idle_timeout=1.0)]
            if topics.RAW.dlq
            else []
        )
        got = await consumed(ingest)
        print(
            f"\n  summary: {len(files)} raw → {int(got.get('ok', 0))} articles, "
            f"{int(got.get('dead_letter', 0))} dead-lettered, {len(alerts)} alert(s)"
        )
        for record in dead:
            headers = header_map(record.headers)
            print(
                f"  dead letter: offset {headers.get(dlq.ORIGINAL_OFFSET)}"
                f" · reason {headers.get(dlq.REASON)} · {headers.get(dlq.EXCEPTION_MESSAGE)}"
            )
        code = 0
    finally:
        exits = [w.stop() for w in workers]
        print(f"\n  workers stopped (exit codes {exits})")
        if broker is not None and started_broker:
            broker.stop()
            print("  broker stopped")
    return code
