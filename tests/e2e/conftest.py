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
