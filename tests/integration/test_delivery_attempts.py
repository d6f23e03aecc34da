"""The console's Delivery page on the real broker: the deliver worker records each webhook
attempt in news.alerts.attempts, the API follows that table and serves it, and sends test
events; a real aiohttp receiver on 127.0.0.1 checks every signature with ``standardwebhooks``.
Every API exchange is validated against schemas/openapi.yaml (tests/api_client.py)."""

import asyncio
import json
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from schemas import topics
from schemas.delivery import DeliveryAttempt, DeliveryHistory
from services.notify.attempt_log import AttemptLog
from services.notify.attempts import history
from services.notify.delivery import run_delivery, subscription_target
from services.runtime.settings import KafkaSettings
from tests.integration.test_subscription_api import GUARANTEES, attach_attempts, start_api
from tests.integration.test_webhook_delivery import (
    Receiver,
    make_alert,
    produce,
    serving,
    settings_for,
    wait_delivered,
)
from tests.waiting import wait_until

pytestmark = pytest.mark.integration


async def test_attempts_retries_and_a_test_event(kafka_bootstrap: str, topic_prefix: str) -> None:
    """500 (Retry-After: 2) then 200: the page shows the retry with its next attempt while
    it waits, then both attempts newest first; a test event reaches the receiver signed and
    joins the history; another key sees nothing."""
    receiver = Receiver(statuses=[500, 200], retry_after="2")
    settings = settings_for(
        kafka_bootstrap, topic_prefix, retry_max_attempts=5, retry_max_delay_seconds=5
    )
    async with aiohttp.ClientSession() as http, serving(hook=receiver) as base:
        api = await start_api(kafka_bootstrap, topic_prefix, http)
        log = await attach_attempts(api)
        try:
            a, b = api.alice, api.bob
            created = await a.call(
                "POST",
                "/v1/subscriptions",
                {**GUARANTEES, "webhook": {"url": f"{base}/hook", "secret": receiver.secret}},
            )
            sub_id = created.json()["id"]
            page = f"/v1/subscriptions/{sub_id}/deliveries"
            empty = DeliveryHistory.model_validate_json((await a.call("GET", page)).body)
            assert empty.attempts == []
            assert empty.next_retry_at is None
            assert empty.webhook is not None
            assert empty.webhook.url == f"{base}/hook"

            alert = make_alert(sub_id, 1)
            await produce(kafka_bootstrap, topic_prefix, [alert])
            # The deliver worker, its targets read from the subscriptions (as `newswire deliver`).
            stop = asyncio.Event()
            registry = CollectorRegistry()

            async def on_gone(_: str, __: str) -> None:
                raise AssertionError("no 410 here")

            worker = asyncio.create_task(
                run_delivery(
                    settings,
                    lambda s: subscription_target(api.store.get(s)),
                    on_gone,
                    stop=stop,
                    registry=registry,
                )
            )
            try:

                async def retrying() -> bool:
                    got = DeliveryHistory.model_validate_json((await a.call("GET", page)).body)
                    return len(got.attempts) == 1

                await wait_until(retrying, 20, "the first (failed) attempt on the page")
                waiting = DeliveryHistory.model_validate_json((await a.call("GET", page)).body)
                [first] = waiting.attempts
                assert (first.status, first.result, first.verdict) == (500, "5xx", "retry")
                assert (first.attempt, first.alerts, first.test) == (1, 1, False)
                assert first.webhook_id == alert.alert_id
                assert first.next_attempt_at is not None
                assert first.next_attempt_at - first.at == timedelta(seconds=2)
                assert waiting.next_retry_at == first.next_attempt_at
                assert abs(first.at - datetime.now(UTC)) < timedelta(seconds=10)

                await wait_delivered(registry, 1, "the delivery", 30)
                done = DeliveryHistory.model_validate_json((await a.call("GET", page)).body)
                assert [(x.attempt, x.status, x.verdict) for x in done.attempts] == [
                    (2, 200, "delivered"),
                    (1, 500, "retry"),
                ]
                assert done.attempts[0].next_attempt_at is None
                assert done.attempts[0].at >= done.attempts[1].next_attempt_at  # type: ignore[operator]
                assert done.next_retry_at is None
            finally:
                stop.set()
                await asyncio.wait_for(worker, 30)
            assert [h.status for h in receiver.hits] == [500, 200]

            # A test event: one signed request now, recorded before the answer.
            tested = await a.call("POST", f"/v1/subscriptions/{sub_id}/webhook/test")
            assert tested.status == 200
            shown = DeliveryAttempt.model_validate_json(tested.body)
            assert (shown.verdict, shown.test, shown.status, shown.result) == (
                "test",
                True,
                200,
                "2xx",
            )
            assert (shown.attempt, shown.alerts, shown.next_attempt_at) == (1, 0, None)
            hit = receiver.hits[-1]
            assert len(receiver.hits) == 3
            assert hit.verified
            assert hit.webhook_id == shown.webhook_id
            assert hit.webhook_id.startswith("test_")
            assert len(hit.webhook_id) == len("test_") + 32
            sent = json.loads(hit.body)
            assert set(sent) == {"type", "subscription_id", "sent_at"}
            assert (sent["type"], sent["subscription_id"]) == ("newswire.test", sub_id)
            assert abs(datetime.fromisoformat(sent["sent_at"]) - shown.at) < timedelta(seconds=5)

            final = DeliveryHistory.model_validate_json((await a.call("GET", page)).body)
            assert [(x.verdict, x.test) for x in final.attempts] == [
                ("test", True),
                ("delivered", False),
                ("retry", False),
            ]
            assert final.attempts[0] == shown
            assert receiver.secret not in (await a.call("GET", page)).body.decode()

            # Another key: not found, and nothing sent.
            assert (await b.call("GET", page)).status == 404
            assert (await b.call("POST", f"/v1/subscriptions/{sub_id}/webhook/test")).status == 404
            assert len(receiver.hits) == 3

            # The history is in the topic: a fresh table restores the same.
            again = AttemptLog(KafkaSettings(bootstrap=kafka_bootstrap))
            await again.start(kafka_bootstrap, topic_prefix + topics.ALERT_ATTEMPTS, "again")
            try:
                assert history(again.table.data, sub_id) == history(log.table.data, sub_id)
                assert len(history(again.table.data, sub_id)) == 3
            finally:
                await again.stop()

            # Deleting the subscription tombstones both of its histories: they leave the
            # API's table now, and a table restored afterwards never sees them.
            assert (await a.call("DELETE", f"/v1/subscriptions/{sub_id}")).status == 204
            assert history(log.table.data, sub_id) == ()
            after = AttemptLog(KafkaSettings(bootstrap=kafka_bootstrap))
            await after.start(kafka_bootstrap, topic_prefix + topics.ALERT_ATTEMPTS, "after")
            try:
                assert history(after.table.data, sub_id) == ()
            finally:
                await after.stop()
        finally:
            await api.server.stop()
            await log.stop()
            await api.store.stop()
