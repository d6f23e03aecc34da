"""One webhook HTTP attempt, behind the SSRF guard, with time and size caps."""

import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp

from services.notify.settings import WebhookSettings
from services.notify.ssrf import (
    WebhookRefused,
    check_literal_host,
    guarded_connector_args,
    url_shape_refusal,
)


@dataclass(frozen=True)
class AttemptResult:
    """What one attempt got: a status, or ``error`` when there was no HTTP answer."""

    status: int | None
    retry_after: str | None = None
    error: str | None = None
    refused: bool = False  # the SSRF guard refused the destination
    seconds: float = 0.0

    @property
    def result_class(self) -> str:
        if self.refused:
            return "refused"
        if self.status is None:
            return "error"
        return f"{self.status // 100}xx"

    def describe(self) -> str:
        return f"status {self.status}" if self.status is not None else f"{self.error}"


class WebhookSender:
    """Posts signed bodies. Redirects are not followed (a 3xx is a failed attempt), the
    response body is read up to a cap and dropped, and every request has connect and total
    timeouts. Environment proxies are ignored (``trust_env`` off): a proxy would connect on
    our behalf to addresses the guard never saw."""

    def __init__(self, settings: WebhookSettings) -> None:
        self._settings = settings
        self._allow = settings.allow_list()
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            s = self._settings
            connector = aiohttp.TCPConnector(limit=0, **guarded_connector_args(self._allow))
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(
                    total=s.webhook_timeout_seconds,
                    connect=s.webhook_connect_timeout_seconds,
                    sock_connect=s.webhook_connect_timeout_seconds,
                ),
                trust_env=False,
                auto_decompress=False,
            )
        return self._session

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> AttemptResult:
        started = time.perf_counter()
        shape = url_shape_refusal(url)
        literal = (
            check_literal_host(urlsplit(url).hostname or "", self._allow) if not shape else None
        )
        if shape or literal:
            return AttemptResult(None, error=f"refused: {shape or literal}", refused=True)
        try:
            async with self._client().post(
                url, data=body, headers=headers, allow_redirects=False
            ) as resp:
                await resp.content.read(self._settings.webhook_max_response_bytes)
                return AttemptResult(
                    resp.status,
                    retry_after=resp.headers.get("Retry-After"),
                    seconds=time.perf_counter() - started,
                )
        except WebhookRefused as exc:
            return AttemptResult(None, error=f"refused: {exc}", refused=True)
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, WebhookRefused):
                return AttemptResult(None, error=f"refused: {exc.os_error}", refused=True)
            return AttemptResult(
                None, error=f"connect: {exc.os_error!r}", seconds=time.perf_counter() - started
            )
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return AttemptResult(
                None, error=f"{type(exc).__name__}: {exc}", seconds=time.perf_counter() - started
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
