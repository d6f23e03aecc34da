"""A client for the subscription API over real HTTP that checks every exchange against
``schemas/openapi.yaml`` with openapi-core, and records which documented responses it saw."""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import yaml
from multidict import CIMultiDict
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

from schemas.openapi import OPENAPI_PATH

# openapi-core knows application/json only; problem details are JSON too, and an event
# stream's body is text.
SPEC = OpenAPI.from_file_path(
    str(OPENAPI_PATH),
    config=Config(
        extra_media_type_deserializers={
            "application/problem+json": lambda data, **_: json.loads(data),
            "text/event-stream": lambda data, **_: bytes(data).decode(),
        }
    ),
)


@dataclass
class SentRequest:
    """What went over the wire, in the shape openapi-core reads (its Request protocol)."""

    host_url: str
    path: str
    method: str
    body: bytes | None
    content_type: str
    parameters: RequestParameters


@dataclass
class ReceivedResponse:
    """What came back (openapi-core's Response protocol)."""

    status_code: int
    content_type: str
    headers: Headers
    data: bytes | None


@dataclass
class Answer:
    status: int
    headers: CIMultiDict[str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def _recorded_request(
    base: str, method: str, url: str, headers: dict[str, str], body: bytes | None
) -> SentRequest:
    parts = urlsplit(url)
    return SentRequest(
        host_url=base,
        path=parts.path,
        method=method.lower(),
        body=body,
        content_type=headers.get("Content-Type", "application/json").lower(),
        parameters=RequestParameters(
            query=ImmutableMultiDict(parse_qsl(parts.query)),
            header=Headers(headers),
            cookie=ImmutableMultiDict(),
        ),
    )


@dataclass
class ApiClient:
    base: str
    key: str | None
    http: aiohttp.ClientSession
    seen: set[tuple[str, str, int]] = field(default_factory=set)

    def as_key(self, key: str | None) -> "ApiClient":
        """The same server and log of seen responses, another API key."""
        return ApiClient(self.base, key, self.http, self.seen)

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        valid_request: bool = True,
    ) -> Answer:
        """Sends the request; validates the response (and, when ``valid_request``, the request)
        against the OpenAPI document. Raises on any mismatch."""
        sent_headers = dict(headers or {})
        if self.key is not None:
            sent_headers.setdefault("Authorization", f"Bearer {self.key}")
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if data is not None:
            sent_headers.setdefault("Content-Type", "application/json")
        url = self.base + path
        async with self.http.request(method, url, data=data, headers=sent_headers) as resp:
            received = await resp.read()
            answer = Answer(resp.status, CIMultiDict(resp.headers), received)
            content_type = resp.headers.get("Content-Type", "")
        request = _recorded_request(self.base, method, url, sent_headers, data)
        response = ReceivedResponse(
            status_code=answer.status,
            content_type=content_type.lower(),
            headers=Headers(list(answer.headers.items())),
            data=received or None,
        )
        if valid_request:
            SPEC.validate_request(request)
        SPEC.validate_response(request, response)
        self.seen.add((method.lower(), _pattern(request.path), answer.status))
        return answer

    @contextlib.asynccontextmanager
    async def stream(
        self, subscription: str | None, last_event_id: str | None = None, path: str = "/v1/stream"
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """GET ``path`` (/v1/stream, or /v1/alerts/stream); the open response (status and
        headers checked against the document) for reading events."""
        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        url = f"{self.base}{path}"
        if subscription is not None:
            url += f"?subscription={subscription}"
        async with self.http.get(url, headers=headers) as resp:
            request = _recorded_request(self.base, "GET", url, headers, None)
            assert resp.status == 200, await resp.text()
            opening = await asyncio.wait_for(resp.content.readuntil(b"\n\n"), 10)
            response = ReceivedResponse(
                200,
                resp.headers.get("Content-Type", "").lower(),
                Headers(list(resp.headers.items())),
                opening,
            )
            SPEC.validate_request(request)
            SPEC.validate_response(request, response)
            self.seen.add(("get", path, 200))
            yield resp


async def read_event(resp: aiohttp.ClientResponse, timeout: float) -> dict[str, str]:
    """The next event (comments skipped) as its fields, e.g. {"id", "event", "data"}."""
    async with asyncio.timeout(timeout):
        while True:
            block = (await resp.content.readuntil(b"\n\n")).decode()
            fields: dict[str, str] = {}
            for line in block.splitlines():
                if line and not line.startswith(":"):
                    name, _, value = line.partition(": ")
                    fields[name] = value
            if "data" in fields:
                return fields


def _pattern(path: str) -> str:
    parts = path.split("/")
    if len(parts) >= 4 and parts[1:3] == ["v1", "subscriptions"]:
        parts[3] = "{id}"
    return "/".join(parts)


def documented_responses() -> set[tuple[str, str, int]]:
    """Every (method, path, status) the OpenAPI document lists."""
    doc = yaml.safe_load(OPENAPI_PATH.read_text(encoding="utf-8"))
    out = set()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method != "parameters":
                out.update((method, path, int(status)) for status in op["responses"])
    return out
