"""The subscription API (aiohttp), served by every notify process on ``NEWSWIRE_API__PORT``.

::

    POST   /v1/subscriptions              create (201; the webhook secret is shown once)
    GET    /v1/subscriptions              list, ?limit= and ?cursor= (cursor pagination)
    GET    /v1/subscriptions/{id}         one (ETag: "<version>")
    PATCH  /v1/subscriptions/{id}         change fields (If-Match: "<version>" → 412 on a race)
    DELETE /v1/subscriptions/{id}         delete (204)
    POST   /v1/subscriptions/{id}/test    dry run against the recent articles, with explanations
    GET    /v1/stream?subscription={id}   Server-Sent Events from news.alerts, Last-Event-ID resume
    POST   /v1/preview                    dry run of a query not saved yet (the console's preview)
    GET    /v1/alerts                     this key's recent alerts, all its subscriptions
    GET    /v1/alerts/stream              the alerts after those, live (SSE, Last-Event-ID resume)
    GET    /                              the subscriber console (static; no key needed to load it)
    GET    /v1/subscriptions/{id}/deliveries    its webhook's last attempts, next retry
    POST   /v1/subscriptions/{id}/webhook/test  send one signed test event now (recorded)

Every ``/v1`` request carries ``Authorization: Bearer <key>``; a key sees only its own subscriptions
(another key's answer 404, as if they did not exist). Errors are RFC 9457
``application/problem+json``. Writes go through the :class:`SubscriptionStore` (the
compacted topic) and are answered after the broker acknowledged them.
"""

import asyncio
import json
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import structlog
from aiohttp import web
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from pydantic import BaseModel, ValidationError

from schemas import topics
from schemas.delivery import DeliveryHistory, DeliveryWebhook
from schemas.subscription import (
    AlertItem,
    AlertsPage,
    AlertsParams,
    AlertStreamParams,
    ListParams,
    PreviewRequest,
    Problem,
    StreamParams,
    Subscription,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionPage,
    SubscriptionPatch,
    SubscriptionView,
    WebhookRequest,
    WebhookTarget,
)
from services.notify import alerts_feed
from services.notify import attempts as attempt_history
from services.notify.api_protocol import (
    StreamSlots,
    UrlChecker,
    basic_url_check,
    decode_cursor,
    etag,
    idempotent_id,
    if_match_ok,
    new_secret,
    page_after,
    parse_event_id,
    partition_of,
    same_request,
    sse_event,
    subscription_of,
)
from services.notify.apikeys import KeyRing
from services.notify.attempt_log import AttemptLog
from services.notify.console import add_console_routes
from services.notify.dryrun import Draft, RecentArticles, dry_run
from services.notify.ratelimit import TokenBucket
from services.notify.sender import WebhookSender
from services.notify.settings import ApiSettings, WebhookSettings
from services.notify.store import SubscriptionStore
from services.notify.webhooks import signed_headers
from services.query import QuerySyntaxError, parse
from services.runtime.health import start_http
from services.runtime.kafka import topic_partitions

log = structlog.get_logger("newswire.notify.api")

PROBLEM_JSON = "application/problem+json"
M = TypeVar("M", bound=BaseModel)
_OWNER_KEY = web.RequestKey("owner", str)


class ApiError(Exception):
    """An error answer: RFC 9457 members plus extensions (``position``, ``errors``)."""

    def __init__(self, status: int, title: str, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.extensions = extensions
        self.headers: dict[str, str] = {}


def too_many(title: str, detail: str, retry_after_seconds: int) -> ApiError:
    """A 429 telling the client when to try again (``Retry-After``)."""
    error = ApiError(429, title, detail)
    error.headers["Retry-After"] = str(retry_after_seconds)
    return error


def problem(
    status: int,
    title: str,
    detail: str | None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> web.Response:
    body = Problem(title=title, status=status, detail=detail, instance=instance, **extensions)
    return web.Response(
        status=status,
        text=body.model_dump_json(exclude_none=True),
        content_type=PROBLEM_JSON,
        headers=headers,
    )


def _field_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """pydantic's errors without the input (which may be large or secret)."""
    return [
        {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
        for e in exc.errors(include_url=False, include_input=False, include_context=False)
    ]


class SubscriptionApi:
    """The aiohttp application, and its server as a worker companion (start/stop)."""

    def __init__(
        self,
        settings: ApiSettings,
        store: SubscriptionStore,
        keys: KeyRing,
        recent: RecentArticles,
        *,
        bootstrap: str,
        alerts_topic: str,
        url_checker: UrlChecker = basic_url_check,
        attempts: AttemptLog | None = None,
        sender: WebhookSender | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.keys = keys
        self.recent = recent
        self.bootstrap = bootstrap
        self.alerts_topic = alerts_topic
        self.url_checker = url_checker
        # The Delivery page: the attempts table (followed) and a sender for test events,
        # with delivery's SSRF guard, timeouts and caps (no allowed private hosts by default).
        self.attempts = attempts
        self.sender = sender or WebhookSender(WebhookSettings())
        self.stopping = asyncio.Event()
        self._streams = StreamSlots()
        self._test_buckets: dict[str, TokenBucket] = {}  # per key; bounded by the key ring
        self.alert_reads = asyncio.Semaphore(settings.max_alert_reads)
        self._runner: web.AppRunner | None = None
        self.port: int | None = None
        self.app = self._build()

    @property
    def open_streams(self) -> int:
        return self._streams.total

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        self._runner, self.port = await start_http(self.app, self.settings.host, self.settings.port)
        log.info("api_listening", host=self.settings.host, port=self.port, keys=len(self.keys))
        if not len(self.keys):
            log.warning("api_without_keys", hint="every request gets 401: set NEWSWIRE_API__KEYS")

    async def stop(self) -> None:
        """Open streams end (on_shutdown sets ``stopping``), then the server closes."""
        self.stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.sender.close()

    @property
    def url(self) -> str:
        return f"http://{self.settings.host}:{self.port}"

    def _build(self) -> web.Application:
        app = web.Application(
            client_max_size=self.settings.max_body_bytes,
            middlewares=[self._problems, self._authenticate],
        )

        async def on_shutdown(_: web.Application) -> None:
            self.stopping.set()

        app.on_shutdown.append(on_shutdown)
        r = app.router
        r.add_post("/v1/subscriptions", self.create)
        r.add_get("/v1/subscriptions", self.list_page)
        r.add_get("/v1/subscriptions/{id}", self.get)
        r.add_patch("/v1/subscriptions/{id}", self.patch)
        r.add_delete("/v1/subscriptions/{id}", self.delete)
        r.add_post("/v1/subscriptions/{id}/test", self.test)
        r.add_get("/v1/stream", self.stream)
        r.add_post("/v1/preview", self.preview)
        r.add_get("/v1/alerts", self.alerts)
        r.add_get("/v1/alerts/stream", self.alerts_stream)
        # The console's Delivery page.
        r.add_get("/v1/subscriptions/{id}/deliveries", self.deliveries)
        r.add_post("/v1/subscriptions/{id}/webhook/test", self.webhook_test)
        add_console_routes(app)
        return app

    # --- middlewares -------------------------------------------------------------------------

    @web.middleware
    async def _problems(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as exc:
            return problem(
                exc.status,
                exc.title,
                exc.detail,
                request.path,
                exc.headers or None,
                **exc.extensions,
            )
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            detail = exc.text if exc.text and not exc.text.startswith(str(exc.status)) else None
            if exc.status == 413:
                detail = f"the body is larger than {self.settings.max_body_bytes} bytes"
            headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
            return problem(exc.status, exc.reason, detail, request.path, headers)
        except Exception:
            log.exception("api_request_failed", path=request.path, method=request.method)
            return problem(500, "Internal Server Error", "see the server log", request.path)

    @web.middleware
    async def _authenticate(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if not request.path.startswith("/v1/"):
            return await handler(request)  # the console's static files: no data in them
        header = request.headers.get("Authorization", "")
        scheme, _, key = header.partition(" ")
        owner = self.keys.authenticate(key.strip()) if scheme.lower() == "bearer" else None
        if owner is None:
            error = ApiError(
                401,
                "Unauthorized",
                "missing or unknown API key: send 'Authorization: Bearer <key>'"
                if header
                else "send 'Authorization: Bearer <key>'",
            )
            error.headers["WWW-Authenticate"] = 'Bearer realm="newswire"'
            raise error
        request[_OWNER_KEY] = owner
        return await handler(request)

    # --- helpers -----------------------------------------------------------------------------

    async def _body(self, request: web.Request, model: type[M]) -> M:
        if request.content_length is not None and (
            request.content_length > self.settings.max_body_bytes
        ):
            raise ApiError(
                413,
                "Content Too Large",
                f"the body is larger than {self.settings.max_body_bytes} bytes",
            )
        ctype = request.content_type
        if ctype != "application/json" and not ctype.endswith("+json"):
            raise ApiError(415, "Unsupported Media Type", "send the body as application/json")
        raw = await request.read()
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ApiError(400, "Malformed JSON", f"the body is not valid JSON: {exc}") from exc
        except RecursionError as exc:
            raise ApiError(400, "Malformed JSON", "the body is nested too deeply") from exc
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            errors = _field_errors(exc)
            first = errors[0]
            where = ".".join(str(p) for p in first["loc"]) or "body"
            raise ApiError(
                422,
                "Invalid Subscription",
                f"{where}: {first['msg']}"
                + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""),
                errors=errors,
            ) from exc

    @staticmethod
    def _params(model: type[M], values: dict[str, Any]) -> M:
        """Query parameters (and headers) through a pydantic model; a problem is a 400."""
        try:
            return model.model_validate({k: v for k, v in values.items() if v is not None})
        except ValidationError as exc:
            errors = _field_errors(exc)
            where = ".".join(str(p) for p in errors[0]["loc"])
            raise ApiError(
                400, "Invalid Parameters", f"{where}: {errors[0]['msg']}", errors=errors
            ) from exc

    @staticmethod
    def _check_query(query: str | None) -> None:
        if query is None:
            return
        try:
            parse(query)
        except QuerySyntaxError as exc:
            raise ApiError(
                400,
                "Invalid Query",
                f"query: {exc.message} at character {exc.position}",
                position=exc.position,
            ) from exc

    async def _check_webhook(self, hook: WebhookRequest | None) -> None:
        if hook is None:
            return
        reason = await self.url_checker(hook.url)
        if reason is not None:
            raise ApiError(422, "Webhook URL Refused", f"webhook.url: {reason}")

    @staticmethod
    def _check_if_match(request: web.Request, sub: Subscription) -> None:
        """412 when an ``If-Match`` names another version than the stored one."""
        if not if_match_ok(request.headers.get("If-Match"), sub):
            raise ApiError(
                412,
                "Precondition Failed",
                f"the subscription is at version {sub.version}, not {request.headers['If-Match']}",
                current_version=sub.version,
            )

    def _owned(self, request: web.Request, subscription_id: str | None = None) -> Subscription:
        sub_id = subscription_id if subscription_id is not None else request.match_info["id"]
        sub = self.store.get(sub_id)
        # Another key's subscription is "not found": a 403 would tell that it exists.
        if sub is None or sub.owner != request[_OWNER_KEY]:
            raise ApiError(404, "Not Found", f"no subscription {sub_id!r} for this API key")
        return sub

    @staticmethod
    def _json(model: BaseModel, status: int = 200, **headers: str) -> web.Response:
        return web.Response(
            status=status,
            text=model.model_dump_json(),
            content_type="application/json",
            headers=headers or None,
        )

    async def _save(self, sub: Subscription | None, delete: str | None = None) -> None:
        try:
            if sub is not None:
                await self.store.put(sub)
            elif delete is not None:
                await self.store.delete(delete)
        except (TimeoutError, KafkaError) as exc:
            log.warning("subscription_write_failed", error=repr(exc))
            raise ApiError(
                503,
                "Service Unavailable",
                "the broker did not confirm the write in time; it may still take effect "
                "(retry a create with the same Idempotency-Key)",
            ) from exc

    def _take_stream_slot(self, owner: str) -> None:
        """One of the server's and the key's open-stream slots, or a 429; give it back with
        ``self._streams.give(owner)`` when the stream ends."""
        s = self.settings
        if not self._streams.take(owner, s.max_streams, s.max_streams_per_key):
            raise too_many(
                "Too Many Streams", "too many open streams for this key or this server", 5
            )

    def _take_test_token(self, owner: str) -> None:
        """One of the key's webhook test events, or a 429 saying when the next one is due."""
        s = self.settings
        bucket = self._test_buckets.get(owner)
        if bucket is None:
            bucket = TokenBucket(s.webhook_tests_per_minute / 60.0, s.webhook_test_burst)
            self._test_buckets[owner] = bucket
        now = time.monotonic()
        if not bucket.try_take(now):
            wait = max(1, math.ceil(bucket.seconds_until_token(now)))
            raise too_many(
                "Too Many Test Events",
                f"this key may send {s.webhook_tests_per_minute:g} test events a minute "
                f"(bursts of {s.webhook_test_burst}); the next in {wait} s",
                wait,
            )

    # --- handlers ----------------------------------------------------------------------------

    async def create(self, request: web.Request) -> web.Response:
        owner = request[_OWNER_KEY]
        body = await self._body(request, SubscriptionCreate)
        self._check_query(body.query)
        idempotency = request.headers.get("Idempotency-Key")
        sub_id = f"sub_{uuid.uuid4().hex}"
        if idempotency is not None:
            if not 1 <= len(idempotency) <= 200 or not idempotency.isprintable():
                raise ApiError(400, "Invalid Idempotency-Key", "1 to 200 printable characters")
            # The id follows from the key, so a retry finds the first attempt's record.
            sub_id = idempotent_id(owner, idempotency)
            earlier = self.store.get(sub_id)
            if earlier is not None:
                if not same_request(earlier, body):
                    raise ApiError(
                        422,
                        "Idempotency-Key Reused",
                        f"this Idempotency-Key created {sub_id} from another request "
                        "(or it changed since)",
                    )
                return self._created(earlier)
        await self._check_webhook(body.webhook)
        if len(self.store.owned_by(owner)) >= self.settings.max_subscriptions_per_key:
            raise ApiError(
                409,
                "Too Many Subscriptions",
                f"this key has {self.settings.max_subscriptions_per_key} subscriptions, the limit",
            )
        hook = None
        if body.webhook is not None:
            hook = WebhookTarget(url=body.webhook.url, secret=body.webhook.secret or new_secret())
        sub = subscription_of(body, sub_id, owner, hook, datetime.now(UTC))
        await self._save(sub)
        return self._created(sub)

    def _created(self, sub: Subscription) -> web.Response:
        """The create answer; a replay (same Idempotency-Key) gets the same one."""
        hook = sub.delivery.webhook
        created = SubscriptionCreated(
            **SubscriptionView.of(sub).model_dump(), webhook_secret=hook.secret if hook else None
        )
        return self._json(created, 201, Location=f"/v1/subscriptions/{sub.id}", ETag=etag(sub))

    async def list_page(self, request: web.Request) -> web.Response:
        owner = request[_OWNER_KEY]
        params = self._params(ListParams, dict(request.query))
        limit = params.limit or min(self.settings.page_size, self.settings.max_page_size)
        if limit > self.settings.max_page_size:
            raise ApiError(
                400,
                "Invalid Parameters",
                f"limit: at most {self.settings.max_page_size}",
            )
        after = None
        if params.cursor is not None:
            try:
                after = decode_cursor(params.cursor)
            except ValueError as exc:
                raise ApiError(400, "Invalid Parameters", f"cursor: {exc}") from exc
        ids, next_cursor = page_after(self.store.owned_by(owner), after, limit)
        items = [SubscriptionView.of(s) for i in ids if (s := self.store.get(i)) is not None]
        return self._json(SubscriptionPage(items=items, next_cursor=next_cursor))

    async def get(self, request: web.Request) -> web.Response:
        sub = self._owned(request)
        return self._json(SubscriptionView.of(sub), ETag=etag(sub))

    async def patch(self, request: web.Request) -> web.Response:
        sub = self._owned(request)
        body = await self._body(request, SubscriptionPatch)
        self._check_if_match(request, sub)
        given = body.model_fields_set
        changes: dict[str, Any] = {
            f: getattr(body, f)
            for f in ("name", "query", "topics", "min_score", "mode", "story_window_s")
            if f in given and (getattr(body, f) is not None or f == "query")
        }
        if "query" in changes:
            self._check_query(changes["query"])
        secret = None
        delivery = sub.delivery
        if "webhook" in given:
            await self._check_webhook(body.webhook)
            if body.webhook is None:
                delivery = delivery.model_copy(update={"webhook": None})
            else:
                kept = delivery.webhook.secret if delivery.webhook else None
                if body.webhook.secret is None and kept is None:
                    secret = new_secret()  # shown in this answer, as at create
                hook = WebhookTarget(
                    url=body.webhook.url, secret=body.webhook.secret or kept or secret
                )
                delivery = delivery.model_copy(update={"webhook": hook})
        if "stream" in given and body.stream is not None:
            delivery = delivery.model_copy(update={"stream": body.stream})
        if "status" in given and body.status is not None and body.status != sub.status:
            changes["status"] = body.status
            changes["status_reason"] = {
                "disabled": "disabled by the owner",
                "paused": "paused by the owner",
            }.get(body.status)
        data = {
            **sub.model_dump(),
            **changes,
            "delivery": delivery.model_dump(),
            "updated_at": datetime.now(UTC),
            "version": sub.version + 1,
        }
        try:
            updated = Subscription.model_validate(data)
        except ValidationError as exc:
            first = exc.errors(include_url=False, include_input=False)[0]
            raise ApiError(422, "Invalid Subscription", first["msg"]) from exc
        bookkeeping = {"updated_at", "version"}
        if updated.model_dump(exclude=bookkeeping) == sub.model_dump(exclude=bookkeeping):
            updated = sub  # nothing changed: no write, no new version
        else:
            await self._save(updated)
        out = SubscriptionCreated(
            **SubscriptionView.of(updated).model_dump(), webhook_secret=secret
        )
        return self._json(out, ETag=etag(updated))

    async def delete(self, request: web.Request) -> web.Response:
        sub = self._owned(request)
        self._check_if_match(request, sub)
        await self._save(None, delete=sub.id)
        if self.attempts is not None:
            # The subscription is gone whatever happens here: a failed tombstone only leaves
            # its history to the topic's retention (unreachable through the API meanwhile).
            try:
                forgotten = await self.attempts.forget(sub.id)
            except (TimeoutError, KafkaError) as exc:
                log.warning("attempts_forget_failed", subscription_id=sub.id, error=repr(exc))
            else:
                log.info("attempts_forgotten", subscription_id=sub.id, keys=forgotten)
        return web.Response(status=204)

    async def test(self, request: web.Request) -> web.Response:
        sub = self._owned(request)
        return self._json(dry_run(sub, self.recent.snapshot()))

    async def stream(self, request: web.Request) -> web.StreamResponse:
        owner = request[_OWNER_KEY]
        params = self._params(
            StreamParams,
            {**request.query, "last_event_id": request.headers.get("Last-Event-ID") or None},
        )
        sub = self._owned(request, params.subscription)
        if not sub.delivery.stream:
            raise ApiError(
                409,
                "Streaming Not Enabled",
                "this subscription does not have the stream target; PATCH it with stream: true",
            )
        resume = parse_event_id(params.last_event_id) if params.last_event_id else None
        self._take_stream_slot(owner)
        try:
            return await self._stream(request, sub.id, owner, resume)
        finally:
            self._streams.give(owner)

    async def _stream(
        self, request: web.Request, sub_id: str, owner: str, resume: tuple[int, int] | None
    ) -> web.StreamResponse:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            client_id="newswire-notify-stream",
            enable_auto_commit=False,
            isolation_level="read_committed",
            # One connection's memory: at most this much fetched and not yet written.
            max_partition_fetch_bytes=1024 * 1024,
            fetch_max_bytes=1024 * 1024,
            # A Last-Event-ID older than the retained alerts resumes at the oldest one kept,
            # not silently at the end.
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            tps = await topic_partitions(consumer, self.alerts_topic)
            partition = partition_of(sub_id, len(tps))
            tp = TopicPartition(self.alerts_topic, partition)
            consumer.assign([tp])
            if resume is not None:
                if resume[0] != partition:
                    raise ApiError(
                        400,
                        "Invalid Last-Event-ID",
                        f"this subscription's alerts are on partition {partition}, not {resume[0]}",
                    )
                end = (await consumer.end_offsets([tp]))[tp]
                if resume[1] >= end:
                    raise ApiError(
                        400,
                        "Invalid Last-Event-ID",
                        f"event {resume[0]}:{resume[1]} was never sent (the stream is at "
                        f"{partition}:{end - 1})",
                    )
                consumer.seek(tp, resume[1] + 1)
            else:
                await consumer.seek_to_end(tp)
                await consumer.position(tp)  # fixed now: alerts from here on are sent
            response = await open_event_stream(request)
            key = sub_id.encode()
            beat = time.monotonic()
            log.info("stream_opened", subscription_id=sub_id, partition=partition, resume=resume)
            try:
                while not self.stopping.is_set():
                    batch = await consumer.getmany(tp, timeout_ms=500, max_records=100)
                    for record in batch.get(tp, []):
                        if record.key == key and record.value is not None:
                            event_id = f"{partition}:{record.offset}"
                            await response.write(sse_event(event_id, "alert", record.value))
                    if time.monotonic() - beat >= self.settings.stream_heartbeat_seconds:
                        await response.write(b": heartbeat\n\n")
                        beat = time.monotonic()
                    current = self.store.get(sub_id)
                    if current is None or current.owner != owner or not current.delivery.stream:
                        break
                    if request.transport is None or request.transport.is_closing():
                        break  # the client went away: free its slot now, not at the next write
            except ConnectionResetError:
                pass  # the client went away mid-write
            except KafkaError as exc:
                # The headers are sent, so no problem answer: end the stream; the client
                # reconnects with Last-Event-ID and loses nothing.
                log.warning("stream_broker_error", subscription_id=sub_id, error=repr(exc))
            log.info("stream_closed", subscription_id=sub_id, stopping=self.stopping.is_set())
            return response
        finally:
            await consumer.stop()

    # --- the console's calls -----------------------------------------------------------------

    async def preview(self, request: web.Request) -> web.Response:
        body = await self._body(request, PreviewRequest)
        self._check_query(body.query)
        draft = Draft(body.query or None, tuple(body.topics), body.min_score)
        return self._json(dry_run(draft, self.recent.snapshot(), limit=body.limit))

    def _wanted(self, request: web.Request, only: str | None) -> alerts_feed.Wanted:
        """Which alert keys are the caller's (one subscription of theirs, with ``only``)."""
        if only is not None:
            ids = {self._owned(request, only).id.encode()}
        else:
            ids = {i.encode() for i in self.store.owned_by(request[_OWNER_KEY])}
        return ids.__contains__

    async def alerts(self, request: web.Request) -> web.Response:
        params = self._params(AlertsParams, dict(request.query))
        wanted = self._wanted(request, params.subscription)
        if self.alert_reads.locked():
            raise too_many(
                "Too Many Alert Reads",
                f"{self.settings.max_alert_reads} reads of news.alerts are under way on this "
                "server; try again in a moment",
                1,
            )
        async with self.alert_reads:
            consumer = alerts_feed.alerts_consumer(self.bootstrap)
            try:
                await consumer.start()
                items, positions, scanned = await alerts_feed.recent(
                    consumer,
                    self.alerts_topic,
                    wanted,
                    params.limit,
                    self.settings.alerts_scan_per_partition,
                )
            except (TimeoutError, KafkaError, ValueError) as exc:
                # ValueError: news.alerts does not exist (yet); the other two, the broker.
                log.warning("alerts_read_failed", error=repr(exc))
                raise ApiError(503, "Service Unavailable", "news.alerts could not be read") from exc
            finally:
                await consumer.stop()
        page = AlertsPage(
            items=[AlertItem(event_id=i.event_id, alert=i.alert) for i in items],
            resume_id=alerts_feed.encode_positions(positions),
            scanned=scanned,
        )
        return self._json(page)

    async def alerts_stream(self, request: web.Request) -> web.StreamResponse:
        owner = request[_OWNER_KEY]
        params = self._params(
            AlertStreamParams,
            {**request.query, "last_event_id": request.headers.get("Last-Event-ID") or None},
        )
        only = params.subscription
        self._wanted(request, only)  # 404 now for another key's subscription
        start = params.last_event_id
        self._take_stream_slot(owner)
        consumer = alerts_feed.alerts_consumer(self.bootstrap)
        try:
            await consumer.start()
            partitions = len(await topic_partitions(consumer, self.alerts_topic))
            try:
                positions = (
                    alerts_feed.decode_positions(start, partitions) if start is not None else None
                )
            except ValueError as exc:
                raise ApiError(400, "Invalid Last-Event-ID", str(exc)) from exc

            def wanted() -> alerts_feed.Wanted:
                try:
                    return self._wanted(request, only)
                except ApiError:
                    return lambda _key: False  # deleted meanwhile: nothing more of it

            feed = alerts_feed.follow(consumer, self.alerts_topic, wanted, positions, self.stopping)
            try:
                first = await anext(feed)
            except ValueError as exc:
                raise ApiError(400, "Invalid Last-Event-ID", str(exc)) from exc
            response = await open_event_stream(request)
            beat = time.monotonic()
            log.info("alerts_stream_opened", owner=owner, subscription_id=only)
            try:
                item: alerts_feed.FeedItem | None = first
                while True:
                    if item is not None:
                        event_id = alerts_feed.encode_positions(item.positions)
                        data = item.alert.model_dump_json().encode()
                        await response.write(sse_event(event_id, "alert", data))
                    else:
                        if time.monotonic() - beat >= self.settings.stream_heartbeat_seconds:
                            await response.write(b": heartbeat\n\n")
                            beat = time.monotonic()
                        if request.transport is None or request.transport.is_closing():
                            break
                    try:
                        item = await anext(feed)
                    except StopAsyncIteration:
                        break
            except ConnectionResetError:
                pass
            except KafkaError as exc:
                log.warning("alerts_stream_broker_error", error=repr(exc))
            finally:
                await feed.aclose()
            log.info("alerts_stream_closed", owner=owner, stopping=self.stopping.is_set())
            return response
        finally:
            self._streams.give(owner)
            await consumer.stop()

    # --- the console's Delivery page ---------------------------------------------------------

    def _attempt_log(self) -> AttemptLog:
        if self.attempts is None:
            raise ApiError(503, "Service Unavailable", "this server keeps no delivery attempts")
        return self.attempts

    async def deliveries(self, request: web.Request) -> web.Response:
        sub = self._owned(request)
        table = self._attempt_log().table.data
        recent = attempt_history.history(table, sub.id)
        next_ms = attempt_history.next_retry_ms(table.get(sub.id, ()))
        hook = sub.delivery.webhook
        page = DeliveryHistory(
            subscription_id=sub.id,
            status=sub.status,
            status_reason=sub.status_reason,
            webhook=DeliveryWebhook(url=hook.url) if hook else None,
            next_retry_at=datetime.fromtimestamp(next_ms / 1000, UTC) if next_ms else None,
            attempts=[attempt_history.to_contract(a) for a in recent],
        )
        return self._json(page)

    async def webhook_test(self, request: web.Request) -> web.Response:
        """One signed test event to the subscription's webhook, now, from this process; no
        retry. Sent whatever the subscription's status (to check an endpoint before
        re-enabling it). The attempt is recorded (acknowledged) before the answer."""
        sub = self._owned(request)
        log_ = self._attempt_log()
        hook = sub.delivery.webhook
        if hook is None:
            raise ApiError(409, "No Webhook", "this subscription has no webhook to test")
        self._take_test_token(request[_OWNER_KEY])
        webhook_id = f"test_{uuid.uuid4().hex}"
        sent_at = datetime.now(UTC)
        body = json.dumps(
            {
                "type": "newswire.test",
                "subscription_id": sub.id,
                "sent_at": sent_at.isoformat().replace("+00:00", "Z"),
            },
            separators=(",", ":"),
        ).encode()
        headers = signed_headers(hook.secret, webhook_id, int(sent_at.timestamp()), body)
        result = await self.sender.post(hook.url, body, headers)
        attempt = attempt_history.Attempt(
            at_ms=int(time.time() * 1000),
            webhook_id=webhook_id,
            attempt=1,
            status=result.status,
            result=result.result_class,
            error=attempt_history.short_error(result.error),
            verdict="test",
            alerts=0,
            test=True,
        )
        log.info(
            "webhook_test_sent",
            subscription_id=sub.id,
            webhook_id=webhook_id,
            status=result.status,
            error=result.error,
        )
        try:
            await log_.record_test(sub.id, attempt)
        except (TimeoutError, KafkaError) as exc:
            log.warning("webhook_test_record_failed", error=repr(exc))
            raise ApiError(
                503,
                "Service Unavailable",
                f"the test event was sent (result {result.result_class}) but the broker did "
                "not confirm its record in time",
            ) from exc
        return self._json(attempt_history.to_contract(attempt))


async def open_event_stream(request: web.Request) -> web.StreamResponse:
    """An SSE response, headers sent, with the client's reconnect delay and a first comment."""
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",  # proxies must not buffer the events
        }
    )
    await response.prepare(request)
    await response.write(b"retry: 2000\n: stream open\n\n")
    return response


def build_api(
    settings: ApiSettings,
    store: SubscriptionStore,
    recent: RecentArticles,
    *,
    bootstrap: str,
    alerts_topic: str = topics.ALERTS.name,
    url_checker: UrlChecker = basic_url_check,
    attempts: AttemptLog | None = None,
    sender: WebhookSender | None = None,
) -> SubscriptionApi:
    """The API with its keys read from settings (``keys`` plus ``keys_file``)."""
    from services.notify.apikeys import load_key_file

    hashes = dict(settings.keys)
    if settings.keys_file is not None:
        for key_id, digest in load_key_file(settings.keys_file).items():
            hashes[key_id] = digest
    return SubscriptionApi(
        settings,
        store,
        KeyRing(hashes),
        recent,
        bootstrap=bootstrap,
        alerts_topic=alerts_topic,
        url_checker=url_checker,
        attempts=attempts,
        sender=sender,
    )
