"""A webhook receiver on 127.0.0.1 that first hangs past the sender's timeout, then answers
500, then recovers (scenario 6), counting what it accepted per alert id."""

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field

from aiohttp import web

from services.runtime.local import free_port


@dataclass
class FlakyReceiver:
    """Phases run from the first request: ``hang_for`` seconds of requests held for
    ``hang_seconds`` and then refused (the sender has given up by then, so they are not
    deliveries), ``fail_for`` seconds of 500s, then 204 for good."""

    hang_for: float = 6.0
    hang_seconds: float = 3.0
    fail_for: float = 6.0
    port: int = field(default_factory=free_port)
    # Per alert id: requests answered 2xx that carried it (a digest carries several).
    accepted: Counter[str] = field(default_factory=Counter)
    accepted_requests: Counter[str] = field(default_factory=Counter)  # per webhook-id
    attempts: Counter[str] = field(default_factory=Counter)  # per phase
    first_request: float | None = None
    started: asyncio.Event = field(default_factory=asyncio.Event)  # set by the first request
    last_accepted: float | None = None
    _runner: web.AppRunner | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def phase(self, now: float) -> str:
        if self.first_request is None:
            self.first_request = now
            self.started.set()
        since = now - self.first_request
        if since < self.hang_for:
            return "hang"
        if since < self.hang_for + self.fail_for:
            return "fail"
        return "ok"

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        phase = self.phase(time.monotonic())
        self.attempts[phase] += 1
        if phase == "hang":
            await asyncio.sleep(self.hang_seconds)
            return web.Response(status=503)
        if phase == "fail":
            return web.Response(status=500, text="receiver failing on purpose")
        doc = json.loads(body)
        ids = [a["alert_id"] for a in doc["alerts"]] if "digest_id" in doc else [doc["alert_id"]]
        for alert in ids:
            self.accepted[alert] += 1
        self.accepted_requests[request.headers.get("webhook-id", "?")] += 1
        self.last_accepted = time.monotonic()
        return web.Response(status=204)

    async def start(self) -> None:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_post("/{path}", self._hook)
        self._runner = web.AppRunner(app, shutdown_timeout=1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
