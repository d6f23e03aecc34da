"""Readiness follows the broker: a worker whose broker stops turns not ready, and ready again
when the broker is back (its own broker here, not the session's shared one)."""

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.runtime.local import LocalBroker, WorkerProcess, start_broker
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


async def test_readyz_flips_when_the_broker_stops_and_recovers(
    own_broker: LocalBroker, tmp_path: Path
) -> None:
    worker = WorkerProcess(
        "ingest",
        own_broker.bootstrap,
        "",
        tmp_path / "ingest.log",
        env={"NEWSWIRE_LAG_PROBE_SECONDS": "0.5", "NEWSWIRE_LOG_LEVEL": "info"},
    )
    worker.start()
    try:
        await worker.wait_ready()
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

        own_broker.start()

        async def ready() -> bool:
            status, _ = await worker.get("/readyz")
            return status == 200

        await wait_until(ready, 120, "/readyz to recover with the broker back")
        lag = await worker.metric("newswire_consumer_lag_records")
        assert lag == 0
    finally:
        worker.stop()
