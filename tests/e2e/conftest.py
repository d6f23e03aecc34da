"""Worker processes for end-to-end tests: real `newswire <service>` processes, real signals."""

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from services.runtime.local import WorkerProcess

Spawn = Callable[..., WorkerProcess]


@pytest.fixture
async def spawn(kafka_bootstrap: str, topic_prefix: str, tmp_path: Path) -> AsyncIterator[Spawn]:
    """Starts a worker process for this test's topics; every one is stopped afterwards."""
    started: list[WorkerProcess] = []

    def start(service: str, **env: str) -> WorkerProcess:
        """``env``: extra NEWSWIRE_* variables for this process."""
        n = sum(1 for w in started if w.service == service)
        worker = WorkerProcess(
            service,
            kafka_bootstrap,
            topic_prefix,
            tmp_path / f"{service}-{n}.log",
            env={"NEWSWIRE_COMMIT__EVERY_SECONDS": "0.2", "NEWSWIRE_LOG_LEVEL": "debug", **env},
        )
        worker.start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.kill()


# Receivers in these tests listen on 127.0.0.1, which the SSRF guard refuses unless allowed.
LOOPBACK_WEBHOOKS = {"NEWSWIRE_NOTIFY__WEBHOOK_ALLOW_HOSTS": "127.0.0.1"}


async def start_all_stages(
    spawn: Spawn, api_keys: str, **deliver_env: str
) -> tuple[WorkerProcess, WorkerProcess, WorkerProcess, WorkerProcess]:
    """ingest, enrich, notify (with ``api_keys``) and deliver, each ready, loopback webhooks
    allowed."""
    ingest = spawn("ingest")
    enrich = spawn("enrich")
    notify = spawn("notify", NEWSWIRE_API__KEYS=api_keys, **LOOPBACK_WEBHOOKS)
    deliver = spawn("deliver", **LOOPBACK_WEBHOOKS, **deliver_env)
    for worker in (ingest, enrich, notify, deliver):
        await worker.wait_ready()
    return ingest, enrich, notify, deliver
