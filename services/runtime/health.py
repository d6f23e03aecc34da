"""Per-worker HTTP endpoints: ``/healthz``, ``/readyz`` and ``/metrics``.

Liveness follows the loop, not the process: aiokafka heartbeats in the background, so group
membership alone would hide a hung step. ``/healthz`` fails when the loop has not turned for
``stall_after`` seconds. ``/readyz`` also needs the clients started, the group joined, the
broker answering the lag probe (services/runtime/lag.py), and progress: a worker with lag that
has processed nothing for ``stall_after`` seconds is not ready, whatever its loop does.
"""

import time
from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest


@dataclass
class Health:
    stall_after: float
    started: bool = False
    stopping: bool = False
    has_joined: bool = False
    assigned: int = 0
    last_turn: float = field(default_factory=time.monotonic)
    last_progress: float = field(default_factory=time.monotonic)
    lag: int = 0
    broker_error: str | None = None

    def loop_turned(self) -> None:
        self.last_turn = time.monotonic()

    def progressed(self) -> None:
        """Records were processed."""
        self.last_progress = time.monotonic()

    def broker_answered(self, lag: int) -> None:
        self.broker_error = None
        self.lag = lag

    def broker_unreachable(self, error: str) -> None:
        self.broker_error = error

    def joined(self, assigned: int) -> None:
        self.has_joined = True
        self.assigned = assigned

    def live(self) -> tuple[bool, dict[str, object]]:
        age = time.monotonic() - self.last_turn
        ok = not self.started or age < self.stall_after
        return ok, {"loop_age_seconds": round(age, 3), "stall_after_seconds": self.stall_after}

    def ready(self) -> tuple[bool, dict[str, object]]:
        live, detail = self.live()
        idle = time.monotonic() - self.last_progress
        stalled = self.lag > 0 and idle >= self.stall_after
        ok = (
            live
            and self.started
            and self.has_joined
            and not self.stopping
            and self.broker_error is None
            and not stalled
        )
        return ok, {
            **detail,
            "started": self.started,
            "joined_group": self.has_joined,
            "assigned_partitions": self.assigned,
            "stopping": self.stopping,
            "broker_error": self.broker_error,
            "lag_records": self.lag,
            "seconds_since_progress": round(idle, 3),
            "stalled_with_lag": stalled,
        }


def health_app(health: Health, registry: CollectorRegistry, service: str) -> web.Application:
    async def healthz(_: web.Request) -> web.Response:
        ok, detail = health.live()
        return web.json_response(
            {"status": "ok" if ok else "stalled", "service": service, **detail},
            status=200 if ok else 503,
        )

    async def readyz(_: web.Request) -> web.Response:
        ok, detail = health.ready()
        return web.json_response(
            {"status": "ready" if ok else "not_ready", "service": service, **detail},
            status=200 if ok else 503,
        )

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app


async def start_http(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Starts the server; returns the runner and the bound port (useful when port is 0)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    server = site._server
    sockets = getattr(server, "sockets", None) or []
    bound = sockets[0].getsockname()[1] if sockets else port
    return runner, int(bound)
