"""Worker processes for end-to-end tests: real `newswire <service>` processes, real signals."""

import sys
from collections.abc import AsyncIterator, Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from services.runtime.local import WorkerProcess, free_port
from tests.e2e.browser import browser, page  # noqa: F401  (fixtures of the browser tests)

Spawn = Callable[..., WorkerProcess]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keeps each phase's report on the test, so its fixtures can tell a failure."""
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()
LOG_TAIL_LINES = 60


@pytest.fixture
async def spawn(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Spawn]:
    """Starts a worker process for this test's topics; every one is stopped afterwards. When
    the test failed, the end of each worker's log goes to the report (its tmp_path copy does
    not outlive a CI machine)."""
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
    call = request.node.stash.get(_REPORTS, {}).get("call")
    if call is not None and call.failed:
        for worker in started:
            print(
                f"\n--- the last {LOG_TAIL_LINES} lines of {worker.log_path.name} ---\n"
                + worker.log_tail(LOG_TAIL_LINES),
                file=sys.stderr,
            )


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


@dataclass
class Receiver:
    """Webhook requests as received, per path."""

    port: int
    got: dict[str, list[tuple[dict[str, str], bytes]]] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver(free_port())

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        path = request.match_info["path"]
        rec.got.setdefault(path, []).append((dict(request.headers), body))
        return web.Response(status=410 if path == "gone" else 204)

    app = web.Application()
    app.router.add_post("/{path}", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", rec.port).start()
    try:
        yield rec
    finally:
        await runner.cleanup()
