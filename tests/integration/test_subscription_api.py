"""The subscription API over real HTTP on 127.0.0.1, its store on the real broker's
compacted topic, every exchange checked against schemas/openapi.yaml."""

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
import pytest
from aiokafka import AIOKafkaProducer

from schemas import topics
from schemas.alert import Alert
from schemas.enriched import Sentiment
from schemas.subscription import Subscription
from services.notify.api import SubscriptionApi
from services.notify.api_protocol import UrlChecker, basic_url_check, partition_of
from services.notify.apikeys import KeyRing, new_key
from services.notify.attempt_log import AttemptLog
from services.notify.dryrun import RecentArticles
from services.notify.sender import WebhookSender
from services.notify.settings import ApiSettings, WebhookSettings
from services.notify.store import SubscriptionStore
from services.runtime.io import read_topic
from services.runtime.kafka import producer_config
from services.runtime.settings import KafkaSettings
from tests.api_client import ApiClient, documented_responses, read_event
from tests.helpers import sample_text, seed_text
from tests.integration.test_webhook_delivery import Receiver, serving
from tests.unit.test_notify import enriched_of
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

ALICE, ALICE_LINE = new_key("alice")
BOB, BOB_LINE = new_key("bob")
HASHES = dict(line.split() for line in (ALICE_LINE, BOB_LINE))


@dataclass
class Running:
    server: SubscriptionApi
    store: SubscriptionStore
    recent: RecentArticles
    alice: ApiClient
    bob: ApiClient
    anonymous: ApiClient
    bootstrap: str
    prefix: str


async def start_api(
    bootstrap: str,
    prefix: str,
    http: aiohttp.ClientSession,
    url_checker: UrlChecker = basic_url_check,
    write_timeout: float = 10,
    **settings: object,
) -> Running:
    store = SubscriptionStore(KafkaSettings(bootstrap=bootstrap), write_timeout=write_timeout)
    await store.start(bootstrap, prefix + topics.SUBSCRIPTIONS.name, "test-api")
    recent = RecentArticles(20)
    config = ApiSettings.model_validate(
        {
            "port": 0,
            "max_body_bytes": 4096,
            "max_page_size": 5,
            "stream_heartbeat_seconds": 0.3,
            "max_streams_per_key": 2,
            **settings,
        }
    )
    server = SubscriptionApi(
        config,
        store,
        KeyRing(HASHES),
        recent,
        bootstrap=bootstrap,
        alerts_topic=prefix + topics.ALERTS.name,
        url_checker=url_checker,
    )
    await server.start()
    alice = ApiClient(server.url, ALICE, http)
    return Running(
        server, store, recent, alice, alice.as_key(BOB), alice.as_key(None), bootstrap, prefix
    )


@pytest.fixture
async def api(kafka_bootstrap: str, topic_prefix: str) -> AsyncIterator[Running]:
    async with aiohttp.ClientSession() as http:
        running = await start_api(kafka_bootstrap, topic_prefix, http)
        try:
            yield running
        finally:
            await running.server.stop()
            await running.store.stop()


async def attach_attempts(api: Running, write_timeout: float = 10) -> AttemptLog:
    """The Delivery page's parts on ``api``: the attempts table (restored, followed) and a
    sender that may reach 127.0.0.1 (the test receivers). Stop the log after the server."""
    log = AttemptLog(KafkaSettings(bootstrap=api.bootstrap), write_timeout=write_timeout)
    await log.start(api.bootstrap, api.prefix + topics.ALERT_ATTEMPTS, "test-api")
    api.server.attempts = log
    await api.server.sender.close()
    api.server.sender = WebhookSender(WebhookSettings(webhook_allow_hosts=("127.0.0.1",)))
    return log


GUARANTEES = {"name": "guarantees", "query": '"security guarantee*" NEAR/10 ukrain*'}


async def stored_records(api: Running) -> list[tuple[str, bytes | None]]:
    topic = api.prefix + topics.SUBSCRIPTIONS.name
    return [
        (r.key.decode(), r.value) async for r in read_topic(api.bootstrap, topic, idle_timeout=1)
    ]


class TestCrud:
    """Create, read, list, update and delete; each write is on the compacted topic."""

    async def test_round_trip(self, api: Running) -> None:
        created = await api.alice.call(
            "POST", "/v1/subscriptions", {**GUARANTEES, "webhook": {"url": "https://h.example/x"}}
        )
        assert created.status == 201
        body = created.json()
        sub_id = body["id"]
        assert created.headers["Location"] == f"/v1/subscriptions/{sub_id}"
        assert created.headers["ETag"] == '"1"'
        secret = body["webhook_secret"]
        assert secret.startswith("whsec_")
        assert body["webhook"] == {"url": "https://h.example/x", "secret_set": True}

        # On the topic, acknowledged before the answer: the full record, secret included.
        [(key, value)] = await stored_records(api)
        assert key == sub_id
        assert value is not None
        record = Subscription.model_validate_json(value)
        assert record.owner == "alice"
        assert record.version == 1
        assert record.delivery.webhook is not None
        assert record.delivery.webhook.secret == secret

        got = await api.alice.call("GET", f"/v1/subscriptions/{sub_id}")
        assert got.status == 200
        assert secret not in got.body.decode()
        assert got.json()["query"] == GUARANTEES["query"]

        patched = await api.alice.call(
            "PATCH",
            f"/v1/subscriptions/{sub_id}",
            {"name": "renamed", "min_score": 0.4, "status": "disabled"},
            headers={"If-Match": '"1"'},
        )
        assert patched.status == 200
        view = patched.json()
        assert (view["name"], view["min_score"], view["version"]) == ("renamed", 0.4, 2)
        assert (view["status"], view["status_reason"]) == ("disabled", "disabled by the owner")
        assert view["webhook_secret"] is None  # the kept secret is not shown again
        assert view["query"] == GUARANTEES["query"]  # untouched fields stay

        stale = await api.alice.call(
            "PATCH", f"/v1/subscriptions/{sub_id}", {"name": "x"}, headers={"If-Match": '"1"'}
        )
        assert stale.status == 412
        assert stale.json()["current_version"] == 2
        stale_delete = await api.alice.call(
            "DELETE", f"/v1/subscriptions/{sub_id}", headers={"If-Match": '"1"'}
        )
        assert stale_delete.status == 412

        deleted = await api.alice.call(
            "DELETE", f"/v1/subscriptions/{sub_id}", headers={"If-Match": '"2"'}
        )
        assert deleted.status == 204
        assert (await api.alice.call("GET", f"/v1/subscriptions/{sub_id}")).status == 404
        assert (await api.alice.call("DELETE", f"/v1/subscriptions/{sub_id}")).status == 404
        records = await stored_records(api)
        assert [k for k, _ in records] == [sub_id] * 3
        assert records[-1][1] is None  # the tombstone

    async def test_patch_webhook_add_keep_and_remove(self, api: Running) -> None:
        sub_id = (await api.alice.call("POST", "/v1/subscriptions", GUARANTEES)).json()["id"]
        added = await api.alice.call(
            "PATCH", f"/v1/subscriptions/{sub_id}", {"webhook": {"url": "https://h.example/a"}}
        )
        secret = added.json()["webhook_secret"]
        assert secret.startswith("whsec_")  # generated now, so shown now
        moved = await api.alice.call(
            "PATCH", f"/v1/subscriptions/{sub_id}", {"webhook": {"url": "https://h.example/b"}}
        )
        assert moved.json()["webhook_secret"] is None
        stored = api.store.get(sub_id)
        assert stored is not None
        assert stored.delivery.webhook is not None
        assert stored.delivery.webhook.secret == secret  # kept across the URL change
        removed = await api.alice.call("PATCH", f"/v1/subscriptions/{sub_id}", {"webhook": None})
        assert removed.json()["webhook"] is None
        assert removed.json()["version"] == 4
        # A patch that changes nothing writes nothing.
        same = await api.alice.call("PATCH", f"/v1/subscriptions/{sub_id}", {"name": "guarantees"})
        assert same.json()["version"] == 4
        assert len(await stored_records(api)) == 4

    async def test_delivery_can_disable_a_subscription(self, api: Running) -> None:
        """What webhook delivery does on a 410: the owner sees the status and the reason."""
        sub_id = (await api.alice.call("POST", "/v1/subscriptions", GUARANTEES)).json()["id"]
        disabled = await api.store.set_status(sub_id, "disabled", "webhook answered 410 Gone")
        assert disabled is not None
        again = await api.store.set_status(sub_id, "disabled", "webhook answered 410 Gone")
        assert again == disabled  # no second write
        view = (await api.alice.call("GET", f"/v1/subscriptions/{sub_id}")).json()
        assert (view["status"], view["status_reason"], view["version"]) == (
            "disabled",
            "webhook answered 410 Gone",
            2,
        )
        assert len(await stored_records(api)) == 2
        assert await api.store.set_status("sub_missing", "disabled", "x") is None

    async def test_a_second_store_restores_what_the_first_wrote(self, api: Running) -> None:
        ids = [
            (
                await api.alice.call("POST", "/v1/subscriptions", {**GUARANTEES, "name": f"s{i}"})
            ).json()["id"]
            for i in range(3)
        ]
        await api.alice.call("DELETE", f"/v1/subscriptions/{ids[0]}")
        other = SubscriptionStore(KafkaSettings(bootstrap=api.bootstrap))
        await other.start(api.bootstrap, api.prefix + topics.SUBSCRIPTIONS.name, "test-other")
        try:
            assert other.owned_by("alice") == sorted(ids[1:])
            # ... and follows writes made elsewhere.
            await api.alice.call("DELETE", f"/v1/subscriptions/{ids[1]}")

            async def followed() -> bool:
                return other.get(ids[1]) is None

            await wait_until(followed, 10, "the other store to follow the delete", every=0.05)
            assert other.owned_by("alice") == [ids[2]]
        finally:
            await other.stop()


class TestIdempotency:
    """A create retried with the same Idempotency-Key makes one subscription, not two."""

    async def test_a_retry_gets_the_first_answer(self, api: Running) -> None:
        body = {**GUARANTEES, "webhook": {"url": "https://h.example/x"}}
        key = {"Idempotency-Key": "create-42"}
        first = await api.alice.call("POST", "/v1/subscriptions", body, headers=key)
        again = await api.alice.call("POST", "/v1/subscriptions", body, headers=key)
        assert first.status == again.status == 201
        assert again.json() == first.json()  # same id, same generated secret
        assert len(await stored_records(api)) == 1
        other = await api.alice.call(
            "POST", "/v1/subscriptions", {**body, "name": "other"}, headers=key
        )
        assert other.status == 422
        assert first.json()["id"] in other.json()["detail"]
        # Keys are per API key: bob's "create-42" is another subscription.
        bobs = await api.bob.call("POST", "/v1/subscriptions", body, headers=key)
        assert bobs.status == 201
        assert bobs.json()["id"] != first.json()["id"]

    async def test_an_unconfirmed_create_retried_makes_one_subscription(
        self, api: Running, kafka_bootstrap: str, topic_prefix: str
    ) -> None:
        key = {"Idempotency-Key": "retry-me"}
        async with aiohttp.ClientSession() as http:
            slow = await start_api(kafka_bootstrap, topic_prefix, http, write_timeout=1e-4)
            try:
                lost = await slow.alice.call("POST", "/v1/subscriptions", GUARANTEES, headers=key)
                assert lost.status == 503
            finally:
                await slow.server.stop()
                await slow.store.stop()
        retried = await api.alice.call("POST", "/v1/subscriptions", GUARANTEES, headers=key)
        assert retried.status == 201
        records = await stored_records(api)
        assert {k for k, _ in records} == {retried.json()["id"]}


class TestPagination:
    async def test_cursor_pages_cover_everything_once(self, api: Running) -> None:
        ids = sorted(
            [
                (
                    await api.alice.call(
                        "POST", "/v1/subscriptions", {**GUARANTEES, "name": f"{i}"}
                    )
                ).json()["id"]
                for i in range(7)
            ]
        )
        await api.bob.call("POST", "/v1/subscriptions", GUARANTEES)  # not alice's
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            query = "?limit=3" + (f"&cursor={cursor}" if cursor else "")
            page = (await api.alice.call("GET", f"/v1/subscriptions{query}")).json()
            pages += 1
            seen += [s["id"] for s in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == ids
        assert pages == 3
        # Without ?limit= a page is page_size (50) capped by max_page_size (5 here).
        default = (await api.alice.call("GET", "/v1/subscriptions")).json()
        assert [s["id"] for s in default["items"]] == ids[:5]
        assert default["next_cursor"] is not None

    @pytest.mark.parametrize(
        "query", ["?limit=0", "?limit=6", "?limit=x", "?cursor=bogus!", "?colour=red"]
    )
    async def test_bad_limits_and_cursors(self, api: Running, query: str) -> None:
        answer = await api.alice.call("GET", f"/v1/subscriptions{query}", valid_request=False)
        assert answer.status == 400
        assert answer.headers["Content-Type"].startswith("application/problem+json")


class TestValidation:
    """Bad requests get RFC 9457 problem details that say what is wrong."""

    async def test_malformed_json(self, api: Running) -> None:
        answer = await api.alice.call(
            "POST", "/v1/subscriptions", raw=b'{"name": ', valid_request=False
        )
        assert answer.status == 400
        problem = answer.json()
        assert problem["title"] == "Malformed JSON"
        assert problem["status"] == 400
        assert problem["instance"] == "/v1/subscriptions"

    async def test_deep_nesting_is_refused_not_a_crash(self, api: Running) -> None:
        answer = await api.alice.call(
            "POST", "/v1/subscriptions", raw=b"[" * 3000, valid_request=False
        )
        assert answer.status == 400
        assert answer.json()["detail"] == "the body is nested too deeply"

    async def test_a_bad_query_names_its_position(self, api: Running) -> None:
        answer = await api.alice.call(
            "POST", "/v1/subscriptions", {"name": "n", "query": "ukraine AND (kyiv OR"}
        )
        assert answer.status == 400
        problem = answer.json()
        assert problem["position"] == 20
        assert "at character 20" in problem["detail"]

    async def test_a_bad_query_in_a_patch(self, api: Running) -> None:
        sub_id = (await api.alice.call("POST", "/v1/subscriptions", GUARANTEES)).json()["id"]
        answer = await api.alice.call(
            "PATCH", f"/v1/subscriptions/{sub_id}", {"query": 'x NEAR/5000 "y'}
        )
        assert answer.status == 400
        assert answer.json()["position"] >= 0

    @pytest.mark.parametrize(
        ("body", "where"),
        [
            ({"name": "n", "query": "a", "colour": "red"}, "colour"),
            ({"name": "", "query": "a"}, "name"),
            ({"name": "n"}, "needs topics, a query, or both"),
            ({"name": "n", "query": "a", "min_score": 2}, "min_score"),
            ({"name": "n", "query": "a", "mode": "sometimes"}, "mode"),
            (
                {"name": "n", "query": "a", "webhook": {"url": "https://h/x", "secret": "s"}},
                "whsec",
            ),
        ],
    )
    async def test_invalid_bodies_are_422_with_every_error(
        self, api: Running, body: dict[str, object], where: str
    ) -> None:
        answer = await api.alice.call("POST", "/v1/subscriptions", body, valid_request=False)
        assert answer.status == 422
        problem = answer.json()
        assert where in problem["detail"]
        assert problem["errors"]
        assert all("loc" in e and "msg" in e for e in problem["errors"])

    async def test_removing_the_query_needs_topics(self, api: Running) -> None:
        only_query = (await api.alice.call("POST", "/v1/subscriptions", GUARANTEES)).json()["id"]
        refused = await api.alice.call("PATCH", f"/v1/subscriptions/{only_query}", {"query": None})
        assert refused.status == 422
        assert "needs topics, a query, or both" in refused.json()["detail"]
        both = (
            await api.alice.call("POST", "/v1/subscriptions", {**GUARANTEES, "topics": ["t"]})
        ).json()["id"]
        narrowed = await api.alice.call("PATCH", f"/v1/subscriptions/{both}", {"query": None})
        assert narrowed.status == 200
        assert narrowed.json()["query"] is None
        assert narrowed.json()["topics"] == ["t"]

    async def test_a_refused_webhook_url(self, api: Running) -> None:
        answer = await api.alice.call(
            "POST", "/v1/subscriptions", {**GUARANTEES, "webhook": {"url": "ftp://h/x"}}
        )
        assert answer.status == 422
        assert "only http and https" in answer.json()["detail"]

    async def test_limits_and_media_types(self, api: Running) -> None:
        big = {"name": "n", "query": "a", "topics": ["x" * 100] * 45}
        too_large = await api.alice.call("POST", "/v1/subscriptions", big, valid_request=False)
        assert too_large.status == 413
        assert "4096 bytes" in too_large.json()["detail"]
        as_text = await api.alice.call(
            "POST",
            "/v1/subscriptions",
            raw=b"name=n",
            headers={"Content-Type": "text/plain"},
            valid_request=False,
        )
        assert as_text.status == 415

    async def test_the_per_key_limit(self, kafka_bootstrap: str, topic_prefix: str) -> None:
        async with aiohttp.ClientSession() as http:
            running = await start_api(
                kafka_bootstrap, topic_prefix, http, max_subscriptions_per_key=2
            )
            try:
                for _ in range(2):
                    ok = await running.alice.call("POST", "/v1/subscriptions", GUARANTEES)
                    assert ok.status == 201
                full = await running.alice.call("POST", "/v1/subscriptions", GUARANTEES)
                assert full.status == 409
                assert "limit" in full.json()["detail"]
                assert (
                    await running.bob.call("POST", "/v1/subscriptions", GUARANTEES)
                ).status == 201
            finally:
                await running.server.stop()
                await running.store.stop()

    async def test_an_injected_url_checker_decides(
        self, kafka_bootstrap: str, topic_prefix: str
    ) -> None:
        asked: list[str] = []

        async def guard(url: str) -> str | None:
            asked.append(url)
            return "resolves to a private address" if "internal" in url else None

        async with aiohttp.ClientSession() as http:
            running = await start_api(kafka_bootstrap, topic_prefix, http, url_checker=guard)
            try:
                refused = await running.alice.call(
                    "POST",
                    "/v1/subscriptions",
                    {**GUARANTEES, "webhook": {"url": "https://internal.example/x"}},
                )
                assert refused.status == 422
                assert "private address" in refused.json()["detail"]
                fine = await running.alice.call(
                    "POST",
                    "/v1/subscriptions",
                    {**GUARANTEES, "webhook": {"url": "https://public.example/x"}},
                )
                assert fine.status == 201
                assert asked == ["https://internal.example/x", "https://public.example/x"]
            finally:
                await running.server.stop()
                await running.store.stop()


class TestAuth:
    """Keys authenticate; a key sees only its own subscriptions, and others' look absent."""

    async def test_missing_and_wrong_keys_are_401(self, api: Running) -> None:
        missing = await api.anonymous.call("GET", "/v1/subscriptions", valid_request=False)
        assert missing.status == 401
        assert missing.headers["WWW-Authenticate"].startswith("Bearer")
        wrong = api.alice.as_key(ALICE[:-2] + "xx")
        assert (await wrong.call("GET", "/v1/subscriptions")).status == 401
        basic = await api.anonymous.call(
            "GET", "/v1/subscriptions", headers={"Authorization": "Basic YTpi"}, valid_request=False
        )
        assert basic.status == 401

    async def test_another_keys_subscription_is_not_found(self, api: Running) -> None:
        sub_id = (await api.alice.call("POST", "/v1/subscriptions", GUARANTEES)).json()["id"]
        path = f"/v1/subscriptions/{sub_id}"
        assert (await api.bob.call("GET", path)).status == 404
        assert (await api.bob.call("PATCH", path, {"name": "mine"})).status == 404
        assert (await api.bob.call("DELETE", path)).status == 404
        assert (await api.bob.call("POST", path + "/test")).status == 404
        assert (await api.bob.call("GET", f"/v1/stream?subscription={sub_id}")).status == 404
        assert (await api.bob.call("GET", "/v1/subscriptions")).json()["items"] == []
        # Untouched, and the 404 reads exactly like a subscription that does not exist.
        mine = await api.alice.call("GET", path)
        assert mine.status == 200
        assert mine.json()["name"] == GUARANTEES["name"]
        absent = await api.bob.call("GET", "/v1/subscriptions/sub_nope")
        assert absent.json()["title"] == (await api.bob.call("GET", path)).json()["title"]


class TestDryRun:
    async def test_matches_recent_articles_with_explanations(self, api: Running) -> None:
        seed = enriched_of(seed_text())
        for enriched in (enriched_of(sample_text("spain-heatwave.txt")), seed):
            api.recent.add(enriched)
        sub_id = (await api.alice.call("POST", "/v1/subscriptions", GUARANTEES)).json()["id"]
        answer = await api.alice.call("POST", f"/v1/subscriptions/{sub_id}/test")
        assert answer.status == 200
        result = answer.json()
        assert result["articles_checked"] == 2
        [match] = result["matches"]
        assert match["article_id"] == seed.article.article_id
        assert "security guarantees" in match["matched_terms"]
        assert any(line.startswith("✓") for line in match["explanation"])


def alert_for(sub_id: str, n: int) -> Alert:
    return Alert(
        alert_id=f"{n:032x}",
        subscription_id=sub_id,
        subscription_name="s",
        article_id=f"article-{n}",
        title=f"title {n}",
        source="test",
        published_at=datetime(2025, 3, 1, tzinfo=UTC),
        matched_topics=[],
        matched_terms=["x"],
        sentiment=Sentiment(score=0.0, label="neutral", method="test"),
        created_at=datetime.now(UTC),
    )


async def produce_alerts(api: Running, alerts: list[Alert]) -> None:
    producer = AIOKafkaProducer(
        **producer_config(KafkaSettings(bootstrap=api.bootstrap), "test-alerts")
    )
    await producer.start()
    try:
        for alert in alerts:
            await producer.send_and_wait(
                api.prefix + topics.ALERTS.name,
                alert.model_dump_json().encode(),
                key=alert.subscription_id.encode(),
            )
    finally:
        await producer.stop()


class TestStream:
    """SSE from news.alerts: only the subscription's alerts, resumable by Last-Event-ID."""

    async def test_delivers_and_resumes_without_repeating(self, api: Running) -> None:
        created = await api.alice.call("POST", "/v1/subscriptions", {**GUARANTEES, "stream": True})
        sub_id = created.json()["id"]
        other = (await api.alice.call("POST", "/v1/subscriptions", GUARANTEES)).json()["id"]
        await produce_alerts(api, [alert_for(sub_id, 0)])  # before the stream: not sent
        async with api.alice.stream(sub_id) as resp:
            assert resp.headers["Content-Type"].startswith("text/event-stream")
            await produce_alerts(api, [alert_for(other, 1), alert_for(sub_id, 2)])
            first = await read_event(resp, 15)
        assert first["event"] == "alert"
        assert json.loads(first["data"])["article_id"] == "article-2"
        partition, _ = first["id"].split(":")
        assert int(partition) == partition_of(sub_id, 3)

        # While disconnected, two more; a resume gets exactly those, in order.
        await produce_alerts(api, [alert_for(sub_id, 3), alert_for(sub_id, 4)])
        async with api.alice.stream(sub_id, last_event_id=first["id"]) as resp:
            again = [await read_event(resp, 15), await read_event(resp, 15)]
        assert [json.loads(e["data"])["article_id"] for e in again] == ["article-3", "article-4"]
        assert len({first["id"], *(e["id"] for e in again)}) == 3

    async def test_heartbeats_keep_an_idle_stream_alive(self, api: Running) -> None:
        sub_id = (
            await api.alice.call("POST", "/v1/subscriptions", {**GUARANTEES, "stream": True})
        ).json()["id"]
        async with api.alice.stream(sub_id) as resp, asyncio.timeout(10):
            beats = 0
            while beats < 2:
                line = await resp.content.readline()
                beats += line == b": heartbeat\n"

    async def test_refusals(self, api: Running) -> None:
        plain = (await api.alice.call("POST", "/v1/subscriptions", GUARANTEES)).json()["id"]
        live = (
            await api.alice.call("POST", "/v1/subscriptions", {**GUARANTEES, "stream": True})
        ).json()["id"]
        not_enabled = await api.alice.call("GET", f"/v1/stream?subscription={plain}")
        assert not_enabled.status == 409
        missing = await api.alice.call("GET", "/v1/stream", valid_request=False)
        assert missing.status == 400
        garbage = await api.alice.call(
            "GET",
            f"/v1/stream?subscription={live}",
            headers={"Last-Event-ID": "yesterday"},
            valid_request=False,
        )
        assert garbage.status == 400
        wrong_partition = (partition_of(live, 3) + 1) % 3
        elsewhere = await api.alice.call(
            "GET",
            f"/v1/stream?subscription={live}",
            headers={"Last-Event-ID": f"{wrong_partition}:0"},
        )
        assert elsewhere.status == 400
        assert "partition" in elsewhere.json()["detail"]
        ahead = await api.alice.call(
            "GET",
            f"/v1/stream?subscription={live}",
            headers={"Last-Event-ID": f"{partition_of(live, 3)}:99"},
        )
        assert ahead.status == 400
        assert "was never sent" in ahead.json()["detail"]
        # At most two streams per key here; a third is refused until one closes.
        async with api.alice.stream(live), api.alice.stream(live):
            third = await api.alice.call("GET", f"/v1/stream?subscription={live}")
            assert third.status == 429
            assert third.headers["Retry-After"] == "5"

        # A closed stream gives its slot back once the server notices (its next turn).
        async def slot_free() -> bool:
            probe = await api.alice.call("GET", "/v1/stream?subscription=sub_none")
            return probe.status == 404 and api.server._streams.total == 0

        await wait_until(slot_free, 5, "the closed streams' slots")
        async with api.alice.stream(live):
            pass

    async def test_deleting_the_subscription_ends_its_stream(self, api: Running) -> None:
        sub_id = (
            await api.alice.call("POST", "/v1/subscriptions", {**GUARANTEES, "stream": True})
        ).json()["id"]
        async with api.alice.stream(sub_id) as resp:
            await api.alice.call("DELETE", f"/v1/subscriptions/{sub_id}")
            async with asyncio.timeout(10):
                rest = await resp.content.read()
        assert b"data:" not in rest

    async def test_server_shutdown_ends_open_streams(self, api: Running) -> None:
        sub_id = (
            await api.alice.call("POST", "/v1/subscriptions", {**GUARANTEES, "stream": True})
        ).json()["id"]
        async with api.alice.stream(sub_id) as resp:
            started = time.monotonic()
            stopping = asyncio.create_task(api.server.stop())
            async with asyncio.timeout(10):
                await resp.content.read()  # EOF: the server closed the stream
            await stopping
            assert time.monotonic() - started < 5


class TestConsoleCalls:
    """The console's calls: a preview of an unsaved query, a key's recent alerts across its
    subscriptions, and the live stream after them with exact resume ids."""

    async def test_preview_explains_and_positions_errors(self, api: Running) -> None:
        seed = enriched_of(seed_text())
        for enriched in (enriched_of(sample_text("spain-heatwave.txt")), seed):
            api.recent.add(enriched)
        answer = await api.alice.call("POST", "/v1/preview", {"query": GUARANTEES["query"]})
        assert answer.status == 200
        [match] = answer.json()["matches"]
        assert match["article_id"] == seed.article.article_id
        assert match["source"] == seed.article.source
        assert "Ukraine" in match["snippet"]
        assert "security guarantees" in match["matched_terms"]
        assert any(line.startswith("✓") for line in match["explanation"])
        bad = await api.alice.call("POST", "/v1/preview", {"query": '"security AND ('})
        assert bad.status == 400
        assert bad.json()["position"] >= 0
        empty = await api.alice.call("POST", "/v1/preview", {"query": " "})
        assert empty.status == 422
        limited = await api.alice.call("POST", "/v1/preview", {"query": "*", "limit": 1})
        assert limited.status in (200, 400)  # a bare wildcard may be refused by the parser

    async def test_recent_alerts_are_the_keys_own_newest_first(self, api: Running) -> None:
        mine = [(await api.alice.call("POST", "/v1/subscriptions", GUARANTEES)).json()["id"]]
        mine.append((await api.alice.call("POST", "/v1/subscriptions", GUARANTEES)).json()["id"])
        theirs = (await api.bob.call("POST", "/v1/subscriptions", GUARANTEES)).json()["id"]
        await produce_alerts(
            api, [alert_for(mine[n % 2] if n % 3 else theirs, n) for n in range(12)]
        )
        page = (await api.alice.call("GET", "/v1/alerts")).json()
        titles = [i["alert"]["title"] for i in page["items"]]
        assert titles == [f"title {n}" for n in reversed(range(12)) if n % 3]
        assert page["scanned"] == 12
        assert page["resume_id"].count(",") == 2  # three partitions
        one = (await api.alice.call("GET", f"/v1/alerts?subscription={mine[0]}&limit=2")).json()
        assert [i["alert"]["subscription_id"] for i in one["items"]] == [mine[0]] * 2
        assert [i["alert"]["title"] for i in one["items"]] == ["title 10", "title 8"]
        hidden = await api.bob.call("GET", f"/v1/alerts?subscription={mine[0]}")
        assert hidden.status == 404

    async def test_the_stream_continues_exactly_after_the_history(self, api: Running) -> None:
        subs = [(await api.alice.call("POST", "/v1/subscriptions", GUARANTEES)).json()["id"]]
        subs.append((await api.alice.call("POST", "/v1/subscriptions", GUARANTEES)).json()["id"])
        theirs = (await api.bob.call("POST", "/v1/subscriptions", GUARANTEES)).json()["id"]
        await produce_alerts(api, [alert_for(subs[0], 0), alert_for(subs[1], 1)])
        history = (await api.alice.call("GET", "/v1/alerts")).json()
        assert len(history["items"]) == 2
        # Produced after the history was read, before the stream opens: not missed.
        await produce_alerts(api, [alert_for(subs[1], 2), alert_for(theirs, 3)])
        path = "/v1/alerts/stream"
        async with api.alice.stream(None, history["resume_id"], path=path) as resp:
            first = await read_event(resp, 15)
            await produce_alerts(api, [alert_for(subs[0], 4), alert_for(subs[1], 5)])
            second = await read_event(resp, 15)
        assert [json.loads(e["data"])["article_id"] for e in (first, second)] == [
            "article-2",
            "article-4",
        ]
        # Disconnected after article-4: a resume from its id gets article-5 and nothing twice.
        await produce_alerts(api, [alert_for(subs[0], 6)])
        async with api.alice.stream(None, second["id"], path=path) as resp:
            again = [await read_event(resp, 15), await read_event(resp, 15)]
        # Different partitions: their alerts may come in either order; each comes once.
        assert sorted(json.loads(e["data"])["article_id"] for e in again) == [
            "article-5",
            "article-6",
        ]
        # Without a resume id the stream starts at the newest: nothing old comes again.
        async with api.alice.stream(subs[0], path=path) as resp:
            await produce_alerts(api, [alert_for(subs[1], 7), alert_for(subs[0], 8)])
            only = await read_event(resp, 15)
        assert json.loads(only["data"])["article_id"] == "article-8"

    async def test_stream_refusals(self, api: Running) -> None:
        sub = (await api.alice.call("POST", "/v1/subscriptions", GUARANTEES)).json()["id"]
        path = "/v1/alerts/stream"
        for bad in ("1,2", "0,0,0,0", "x,y,z"):
            answer = await api.alice.call(
                "GET", path, headers={"Last-Event-ID": bad}, valid_request=bad != "x,y,z"
            )
            assert answer.status == 400, bad
        ahead = await api.alice.call("GET", path, headers={"Last-Event-ID": "0,0,99"})
        assert ahead.status == 400
        assert "the id names 99" in ahead.json()["detail"]
        assert (await api.bob.call("GET", f"{path}?subscription={sub}")).status == 404


class TestContract:
    async def test_every_documented_response_was_seen_over_http(
        self, kafka_bootstrap: str, topic_prefix: str
    ) -> None:
        """One pass through every operation and its documented statuses, each response
        validated against the document."""
        async with aiohttp.ClientSession() as http:
            api = await start_api(kafka_bootstrap, topic_prefix, http, max_subscriptions_per_key=2)
            try:
                a, b = api.alice, api.bob
                sid = (await a.call("POST", "/v1/subscriptions", GUARANTEES)).json()["id"]
                live = (
                    await a.call("POST", "/v1/subscriptions", {**GUARANTEES, "stream": True})
                ).json()["id"]
                path = f"/v1/subscriptions/{sid}"
                await a.call("POST", "/v1/subscriptions", GUARANTEES)  # 409: limit 2
                await a.call("POST", "/v1/subscriptions", {"name": "n", "query": "("})  # 400
                await a.call("POST", "/v1/subscriptions", {"name": "n"}, valid_request=False)
                await a.call("POST", "/v1/subscriptions", raw=b"x" * 5000, valid_request=False)
                await a.call(
                    "POST",
                    "/v1/subscriptions",
                    raw=b"{}",
                    headers={"Content-Type": "text/plain"},
                    valid_request=False,
                )
                await api.anonymous.call(
                    "POST", "/v1/subscriptions", GUARANTEES, valid_request=False
                )
                await a.call("GET", "/v1/subscriptions?limit=1")
                await a.call("GET", "/v1/subscriptions?limit=99", valid_request=False)
                await api.anonymous.call("GET", "/v1/subscriptions", valid_request=False)
                for method in ("GET", "PATCH", "DELETE"):
                    body = {"name": "x"} if method == "PATCH" else None
                    await b.call(method, path, body)  # 404
                    await api.anonymous.call(method, path, body, valid_request=False)  # 401
                await a.call("GET", path)
                await a.call("PATCH", path, {"query": "("})  # 400
                await a.call("PATCH", path, {"min_score": 5}, valid_request=False)  # 422
                await a.call("PATCH", path, raw=b"[" * 5000, valid_request=False)  # 413
                await a.call(
                    "PATCH",
                    path,
                    raw=b"{}",
                    headers={"Content-Type": "text/plain"},
                    valid_request=False,
                )  # 415
                await a.call("PATCH", path, {"name": "y"}, headers={"If-Match": '"9"'})  # 412
                await a.call("PATCH", path, {"name": "y"})
                await a.call("POST", f"{path}/test")
                await b.call("POST", f"{path}/test")
                await api.anonymous.call("POST", f"{path}/test", valid_request=False)
                await a.call("GET", f"/v1/stream?subscription={sid}")  # 409
                await a.call("GET", "/v1/stream", valid_request=False)  # 400
                await b.call("GET", f"/v1/stream?subscription={live}")  # 404
                await api.anonymous.call(
                    "GET", f"/v1/stream?subscription={live}", valid_request=False
                )  # 401
                async with a.stream(live), a.stream(live):
                    await a.call("GET", f"/v1/stream?subscription={live}")  # 429

                async def streams_released() -> bool:
                    # The server frees a slot when its handler sees the client go: under CPU
                    # load that can trail the client's close, and the next stream got a 429.
                    return api.server.open_streams == 0

                await wait_until(streams_released, 10, "the closed streams' slots")
                await a.call("POST", "/v1/preview", {"query": "ukraine"})
                await a.call("POST", "/v1/preview", {"query": "("})  # 400
                await a.call("POST", "/v1/preview", {"query": ""}, valid_request=False)  # 422
                await a.call("POST", "/v1/preview", raw=b"x" * 5000, valid_request=False)
                await a.call(
                    "POST",
                    "/v1/preview",
                    raw=b"{}",
                    headers={"Content-Type": "text/plain"},
                    valid_request=False,
                )  # 415
                await api.anonymous.call("POST", "/v1/preview", {"query": "x"}, valid_request=False)
                await a.call("GET", "/v1/alerts?limit=5")
                # Every read slot taken (4 reads under way): the next is a 429, and once one
                # slot is free a read goes through again.
                reads = api.server.alert_reads
                for _ in range(api.server.settings.max_alert_reads):
                    await reads.acquire()
                busy = await a.call("GET", "/v1/alerts?limit=5")
                assert (busy.status, busy.headers["Retry-After"]) == (429, "1")
                reads.release()
                assert (await a.call("GET", "/v1/alerts?limit=5")).status == 200
                for _ in range(api.server.settings.max_alert_reads - 1):
                    reads.release()
                await a.call("GET", "/v1/alerts?limit=0", valid_request=False)  # 400
                await b.call("GET", f"/v1/alerts?subscription={live}")  # 404
                await api.anonymous.call("GET", "/v1/alerts", valid_request=False)
                stream_all = "/v1/alerts/stream"
                await a.call("GET", stream_all, headers={"Last-Event-ID": "1"})  # 400
                await b.call("GET", f"{stream_all}?subscription={live}")  # 404
                await api.anonymous.call("GET", stream_all, valid_request=False)  # 401
                async with a.stream(None, path=stream_all), a.stream(live, path=stream_all):
                    await a.call("GET", stream_all)  # 429
                # The Delivery page (tests/integration/test_delivery_attempts.py in depth).
                await attach_attempts(api)
                hooked = f"/v1/subscriptions/{live}"
                async with serving(hook=Receiver()) as hooks:
                    await a.call("PATCH", hooked, {"webhook": {"url": f"{hooks}/hook"}})
                    await a.call("POST", f"{hooked}/webhook/test")
                    # A key sends at most 3 test events in a burst (then 6 a minute): the
                    # fourth in a row is a 429 that says when to come back.
                    burst = [await a.call("POST", f"{hooked}/webhook/test") for _ in range(3)]
                    assert [t.status for t in burst] == [200, 200, 429]
                    assert 1 <= int(burst[-1].headers["Retry-After"]) <= 10
                    assert burst[-1].json()["title"] == "Too Many Test Events"
                    await a.call("GET", f"{hooked}/deliveries")
                    await b.call("GET", f"{hooked}/deliveries")  # 404
                    await api.anonymous.call("GET", f"{hooked}/deliveries", valid_request=False)
                    await a.call("POST", f"{path}/webhook/test")  # 409: no webhook
                    await b.call("POST", f"{hooked}/webhook/test")  # 404
                    await api.anonymous.call(
                        "POST", f"{hooked}/webhook/test", valid_request=False
                    )  # 401
                await a.call("DELETE", path, headers={"If-Match": '"1"'})  # 412
                await a.call("DELETE", path)

                # A server whose writes cannot be confirmed within 0.1 ms answers 503.
                slow = await start_api(kafka_bootstrap, topic_prefix, http, write_timeout=1e-4)
                slow_attempts = await attach_attempts(slow, write_timeout=1e-4)
                try:

                    async def slow_sees_live() -> bool:
                        return slow.store.get(live) is not None

                    await wait_until(slow_sees_live, 10, "the second server to follow")
                    s = slow.alice.as_key(ALICE)
                    s.seen = a.seen
                    # A test event is sent (the receiver is gone: an error) but its record
                    # is not confirmed in time.
                    untested = await s.call("POST", f"/v1/subscriptions/{live}/webhook/test")
                    assert untested.status == 503
                    unconfirmed = [
                        await s.call("POST", "/v1/subscriptions", GUARANTEES),
                        await s.call("PATCH", f"/v1/subscriptions/{live}", {"name": "z"}),
                        await s.call("DELETE", f"/v1/subscriptions/{live}"),
                    ]
                    assert [u.status for u in unconfirmed] == [503, 503, 503]
                    slow.server.alerts_topic = api.prefix + "no.such.topic"
                    unreadable = await s.call("GET", "/v1/alerts")
                    assert unreadable.status == 503
                finally:
                    await slow.server.stop()
                    await slow_attempts.stop()
                    await slow.store.stop()
                assert documented_responses() - a.seen == set()
            finally:
                await api.server.stop()
                await api.store.stop()
                if api.server.attempts is not None:
                    await api.server.attempts.stop()
