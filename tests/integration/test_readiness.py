"""Readiness follows the broker: a worker whose broker stops turns not ready, and ready again
when the broker is back (its own broker here, not the session's shared one). The worker
stays up through the outage, in both guarantees, and what arrives after it is delivered
(exactly once in exactly_once mode)."""

import asyncio
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.runtime.io import produce_raw, read_topic
from services.runtime.local import LocalBroker, WorkerProcess, start_broker
from services.runtime.settings import KafkaSettings
from tests.helpers import generated_article, raw_event
from tests.waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def own_broker() -> Iterator[LocalBroker]:
    state = Path(tempfile.mkdtemp(prefix="newswire-test-ready-"))
    broker = start_broker(state)
    try:
        yield broker
    finally:
        broker.stop()
        shutil.rmtree(state, ignore_errors=True)


@pytest.mark.parametrize("guarantee", ["at_least_once", "exactly_once"])
async def test_readyz_flips_when_the_broker_stops_and_recovers(
    own_broker: LocalBroker, tmp_path: Path, guarantee: str
) -> None:
    worker = WorkerProcess(
        "ingest",
        own_broker.bootstrap,
        "",
        tmp_path / "ingest.log",
        env={
            "NEWSWIRE_LAG_PROBE_SECONDS": "0.5",
            "NEWSWIRE_LOG_LEVEL": "info",
            "NEWSWIRE_PROCESSING_GUARANTEE": guarantee,
            "NEWSWIRE_KAFKA__CALL_TIMEOUT_SECONDS": "5",
        },
    )
    worker.start()
    kafka = KafkaSettings(bootstrap=own_broker.bootstrap)
    try:
        await worker.wait_ready()
        await produce_raw(kafka, "news.raw", [raw_event(generated_article(i)) for i in range(10)])
        status, body = await worker.get("/readyz")
        assert status == 200, body
        assert '"broker_error": null' in body

        own_broker.stop()

        async def not_ready() -> bool:
            status, _ = await worker.get("/readyz")
            return status == 503

        await wait_until(not_ready, 60, "/readyz to turn 503 with the broker down")
        _, body = await worker.get("/readyz")
        assert '"broker_error": null' not in body
        assert (await worker.get("/healthz"))[0] == 200  # alive: the loop still turns
        await asyncio.sleep(10)  # past the 5 s bound on broker calls
        assert worker.process is not None
        assert worker.process.poll() is None, "the worker exited during the outage"

        own_broker.start()

        async def ready() -> bool:
            status, _ = await worker.get("/readyz")
            return status == 200

        await wait_until(ready, 120, "/readyz to recover with the broker back")
        await produce_raw(
            kafka, "news.raw", [raw_event(generated_article(i)) for i in range(10, 20)]
        )

        async def all_out() -> bool:
            return len(await keys(own_broker.bootstrap)) == 20

        await wait_until(all_out, 60, "all 20 articles once the broker is back")
        lag = await worker.metric("newswire_consumer_lag_records")
        assert lag == 0
        assert worker.process.poll() is None
        if guarantee == "exactly_once":
            assert set((await keys(own_broker.bootstrap)).values()) == {1}
    finally:
        worker.stop()


async def keys(bootstrap: str) -> Counter[bytes]:
    """Committed articles on news.articles, by key, with their counts."""
    return Counter([r.key async for r in read_topic(bootstrap, "news.articles", idle_timeout=1)])
