"""From a raw article to a signed webhook, every stage a real process on the real broker.

ingest → enrich → notify (matcher + subscription API) → deliver, with a subscription made
through the API whose webhook is an aiohttp receiver on 127.0.0.1 (allowed explicitly: the
SSRF guard refuses loopback by default). The seed and a rewrite of it by another outlet are
one story: the story-mode subscription gets exactly one delivery, the every-article one two.
Signatures are checked with the independent ``standardwebhooks`` package.
"""

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from services.notify.apikeys import new_key
from services.runtime.io import produce_raw
from services.runtime.settings import KafkaSettings
from tests.api_client import ApiClient
from tests.e2e.conftest import Receiver, Spawn, start_all_stages
from tests.helpers import raw_event, seed_text
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e

ALICE, ALICE_LINE = new_key("alice")
KEYS = json.dumps(dict([ALICE_LINE.split()]))


def rewrite_of_seed() -> str:
    """The seed as another outlet reports it: new headline, a bullet less, reworded opening."""
    lines = seed_text().splitlines()
    title = next(i for i, line in enumerate(lines) if line.strip())
    lines[title] = "Starmer and Trump discuss security guarantees for Ukraine in Washington"
    text = "\n".join(lines)
    text = text.replace(
        "- The discussions indicate a need for stronger European involvement in defense and "
        "security matters.\n",
        "",
    )
    return text.replace("On February 27, 2025,", "On Thursday,")


def verified(secret: str, headers: dict[str, str], body: bytes) -> Any:
    """The payload, once the independent verifier accepts the signature (raises if not)."""
    return Webhook(secret).verify(body, {k.lower(): v for k, v in headers.items()})


async def test_raw_article_to_one_signed_webhook_per_story(
    kafka_bootstrap: str, topic_prefix: str, spawn: Spawn, receiver: Receiver
) -> None:
    workers = await start_all_stages(spawn, KEYS, NEWSWIRE_NOTIFY__RETRY_BASE_DELAY_SECONDS="0.1")
    notify, deliver = workers[2], workers[3]

    async with aiohttp.ClientSession() as http:
        api = ApiClient(notify.api_url, ALICE, http)
        secrets = {}
        for mode in ("story", "every"):
            answer = await api.call(
                "POST",
                "/v1/subscriptions",
                {
                    "name": f"guarantees ({mode})",
                    "topics": ["ukraine-security-guarantees"],
                    "mode": mode,
                    "webhook": {"url": receiver.url(mode)},
                },
            )
            assert answer.status == 201, answer.json()
            secrets[mode] = answer.json()["webhook_secret"]

        # A loopback webhook without the allow-list would be refused at subscribe time; the
        # same URL to a private address is refused here, allow-list or not.
        refused = await api.call(
            "POST",
            "/v1/subscriptions",
            {"name": "x", "topics": ["markets"], "webhook": {"url": "http://10.1.2.3/hook"}},
        )
        assert refused.status == 422, refused.json()

    kafka = KafkaSettings(bootstrap=kafka_bootstrap)
    raw = topic_prefix + "news.raw"
    await produce_raw(kafka, raw, [raw_event(seed_text(), source="wire")])

    async def first_delivered() -> bool:
        return len(receiver.got.get("story", [])) >= 1 and len(receiver.got.get("every", [])) >= 1

    await wait_until(first_delivered, 90, "the seed's webhooks")
    rewrite = raw_event(rewrite_of_seed(), source="daily", url="https://daily.example/starmer")
    await produce_raw(kafka, raw, [rewrite])

    async def second_delivered() -> bool:
        return len(receiver.got.get("every", [])) >= 2

    await wait_until(second_delivered, 90, "the rewrite's webhook (every-article mode)")

    async def notify_done() -> bool:
        return await notify.metric("newswire_records_consumed_total") >= 2

    await wait_until(notify_done, 30, "notify to consume both articles")
    await asyncio.sleep(2)  # time for a wrong second story-mode delivery to arrive

    [(headers, body)] = receiver.got["story"]
    story_alert = verified(secrets["story"], headers, body)
    assert headers["webhook-id"] == story_alert["alert_id"]
    assert "ukraine-security-guarantees" in story_alert["matched_topics"]

    every = [verified(secrets["every"], h, b) for h, b in receiver.got["every"]]
    assert len({a["article_id"] for a in every}) == 2
    assert len({a["story_id"] for a in every}) == 1  # the rewrite joined the seed's story
    assert story_alert["story_id"] == every[0]["story_id"]
    # A signature made with the other subscription's secret does not verify.
    with pytest.raises(WebhookVerificationError):
        verified(secrets["every"], headers, body)
    delivered = await deliver.metric("newswire_webhook_deliveries_total", outcome="delivered")
    assert delivered == 3


async def test_a_410_receiver_disables_its_subscription_in_the_topic(
    kafka_bootstrap: str, topic_prefix: str, spawn: Spawn, receiver: Receiver
) -> None:
    workers = await start_all_stages(spawn, KEYS)
    async with aiohttp.ClientSession() as http:
        api = ApiClient(workers[2].api_url, ALICE, http)
        created = await api.call(
            "POST",
            "/v1/subscriptions",
            {
                "name": "gone",
                "topics": ["ukraine-security-guarantees"],
                "webhook": {"url": receiver.url("gone")},
            },
        )
        sub_id = created.json()["id"]
        await produce_raw(
            KafkaSettings(bootstrap=kafka_bootstrap),
            topic_prefix + "news.raw",
            [raw_event(seed_text(), source="wire")],
        )

        async def disabled() -> bool:
            view = (await api.call("GET", f"/v1/subscriptions/{sub_id}")).json()
            return bool(view["status"] == "disabled")

        await wait_until(disabled, 90, "the subscription to be disabled after a 410")
        view = (await api.call("GET", f"/v1/subscriptions/{sub_id}")).json()
    assert "410" in (view["status_reason"] or "")
    assert len(receiver.got["gone"]) == 1  # no retry after 410

    # The Delivery page across processes: deliver recorded the attempt in news.alerts.attempts,
    # notify follows that table and serves it, and sends a test event itself.
    async with aiohttp.ClientSession() as http:
        api = ApiClient(workers[2].api_url, ALICE, http)
        page = f"/v1/subscriptions/{sub_id}/deliveries"

        async def recorded() -> bool:
            return bool((await api.call("GET", page)).json()["attempts"])

        await wait_until(recorded, 30, "the 410 attempt on the Delivery page")
        shown = (await api.call("GET", page)).json()
        assert (shown["status"], shown["next_retry_at"]) == ("disabled", None)
        [gone] = shown["attempts"]
        assert (gone["status"], gone["result"], gone["verdict"]) == (410, "4xx", "gone")
        tested = await api.call("POST", f"/v1/subscriptions/{sub_id}/webhook/test")
        assert tested.status == 200
        assert (tested.json()["verdict"], tested.json()["status"]) == ("test", 410)
        after = (await api.call("GET", page)).json()
        assert [a["verdict"] for a in after["attempts"]] == ["test", "gone"]
    headers, body = receiver.got["gone"][-1]
    assert headers["webhook-id"].startswith("test_")
    assert verified(created.json()["webhook_secret"], headers, body)["type"] == "newswire.test"
