"""The subscriber console in a real headless Chromium, against real worker processes on the
real broker: sign in, write a query (a syntax error shown inline, then a good one), produce
the seed as a scraper would, watch its alert arrive live, open its explanation, preview the
query on the recent articles, pause the subscription, produce another matching article and
see no new alert (another key's subscription proves that article went through), and check
the delivery page. Each page's screenshot is written to docs/screenshots/.
"""

import json
from datetime import UTC, datetime

import aiohttp
import pytest
from aiokafka import AIOKafkaProducer
from playwright.async_api import Dialog, Page, Request, Route, expect

from schemas.alert import Alert
from schemas.enriched import Sentiment
from services.notify.apikeys import new_key
from services.runtime.io import produce_raw
from services.runtime.kafka import producer_config
from services.runtime.settings import KafkaSettings
from tests.api_client import ApiClient
from tests.e2e.browser import SCREENSHOTS, accessibility_problems
from tests.e2e.conftest import LOOPBACK_WEBHOOKS, Receiver, Spawn, start_all_stages
from tests.e2e.test_webhook_pipeline import rewrite_of_seed
from tests.helpers import raw_event, seed_text
from tests.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

ALICE, ALICE_LINE = new_key("alice")
BOB, BOB_LINE = new_key("bob")
KEYS = json.dumps(dict([ALICE_LINE.split(), BOB_LINE.split()]))
QUERY = '"security guarantee*" NEAR/10 ukrain*'
SEED_TITLE = "Starmer meets Trump in critical talks over Ukraine security guarantees"
WAIT_MS = 90_000


async def shot(page: Page, name: str) -> None:
    """The page's screenshot for the README, once axe-core finds nothing on it."""
    assert await accessibility_problems(page) == [], name
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


async def test_console_end_to_end(
    kafka_bootstrap: str, topic_prefix: str, spawn: Spawn, receiver: Receiver, page: Page
) -> None:
    ingest, enrich, notify, deliver = await start_all_stages(
        spawn, KEYS, NEWSWIRE_NOTIFY__RETRY_BASE_DELAY_SECONDS="0.1"
    )
    requested: list[str] = []

    def on_request(request: Request) -> None:
        requested.append(request.url)

    page.on("request", on_request)
    kafka = KafkaSettings(bootstrap=kafka_bootstrap)
    raw = topic_prefix + "news.raw"

    # Sign in: a wrong key is refused on the page, the right one opens the console.
    await page.goto(notify.api_url + "/")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await shot(page, "sign-in")
    await page.get_by_label("API key").fill("nw_wrong")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#signin-error")).to_have_text("That key was refused.")
    await page.get_by_label("API key").fill(ALICE)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Subscriptions")).to_be_visible()

    # A subscription for Ukraine security guarantees: first a query that does not parse.
    await page.get_by_role("button", name="New subscription").click()
    await page.get_by_label("Name", exact=True).fill("Ukraine security guarantees")
    query = page.get_by_label("Query", exact=True)
    await query.fill('"security guarantee*" NEAR/10 (ukrain*')
    error = page.locator("#query-error")
    await expect(error).to_contain_text("at character")
    await expect(query).to_have_attribute("aria-invalid", "true")
    position = await error.locator("code").get_attribute("data-position")
    assert position is not None
    assert int(position) > 0
    await query.fill(QUERY)
    await expect(error).to_be_empty()
    await expect(query).not_to_have_attribute("aria-invalid", "true")
    await page.get_by_label("Webhook URL").fill(receiver.url("hook"))
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#editor-secret")).to_contain_text("whsec_")
    row = page.locator("#subs-table tbody tr", has_text="Ukraine security guarantees")
    await expect(row).to_have_count(1)
    await expect(row.locator(".status-active")).to_have_text("active")
    await page.get_by_role("button", name="Cancel").click()

    # Live alerts: the stream is open before the article is produced.
    await page.get_by_role("link", name="Live alerts").click()
    await expect(page.locator("#stream-state")).to_have_text("Live", timeout=WAIT_MS)
    await produce_raw(kafka, raw, [raw_event(seed_text(), source="wire")])
    alerts = page.locator("#alerts-list > li")
    await expect(alerts).to_have_count(1, timeout=WAIT_MS)
    await expect(alerts.first).to_contain_text(SEED_TITLE)
    await expect(alerts.first.locator("mark").first).to_be_visible()  # matched terms
    why = alerts.first.get_by_role("button", name="Why this alert")
    await why.click()
    await expect(why).to_have_attribute("aria-expanded", "true")
    await expect(alerts.first.locator(".explain pre")).to_contain_text("✓", timeout=10_000)
    await shot(page, "live-alerts")

    # The editor's preview finds the seed among the recent articles, terms highlighted.
    await page.get_by_role("link", name="Subscriptions").click()
    await row.get_by_role("button", name="Edit Ukraine security guarantees").click()
    matches = page.locator("#preview-list > li")
    await expect(matches).to_have_count(1, timeout=10_000)
    await expect(matches.first).to_contain_text(SEED_TITLE)
    await expect(matches.first.locator("mark").first).to_be_visible()
    await shot(page, "subscriptions")
    await page.get_by_role("button", name="Cancel").click()

    # Pause it; bob's subscription (same query, another key) will show the next article
    # went through the pipeline while alice's got nothing.
    await row.get_by_role("button", name="Pause").click()
    await expect(row.locator(".status-paused")).to_have_text("paused")
    async with aiohttp.ClientSession() as http:
        bob = ApiClient(notify.api_url, BOB, http)
        created = await bob.call("POST", "/v1/subscriptions", {"name": "control", "query": QUERY})
        assert created.status == 201, created.json()
        await page.get_by_role("link", name="Live alerts").click()
        await expect(page.locator("#stream-state")).to_have_text("Live", timeout=WAIT_MS)
        rewrite = raw_event(rewrite_of_seed(), source="daily", url="https://daily.example/starmer")
        await produce_raw(kafka, raw, [rewrite])

        async def bob_alerted() -> bool:
            answer = await bob.call("GET", "/v1/alerts")
            return len(answer.json()["items"]) == 1

        await wait_until(bob_alerted, 90, "the control subscription's alert")
        alice = ApiClient(notify.api_url, ALICE, http)
        mine = (await alice.call("GET", "/v1/alerts")).json()["items"]
    assert [i["alert"]["title"] for i in mine] == [SEED_TITLE]
    await page.wait_for_timeout(1500)  # time for a wrong alert to reach the page
    await expect(alerts).to_have_count(1)

    # Delivery: the seed's webhook was delivered; a test event goes out and is listed.
    await page.get_by_role("link", name="Delivery").click()
    card = page.locator("#delivery-list section", has_text="Ukraine security guarantees")
    await expect(card.locator("table tbody tr")).not_to_have_count(0, timeout=WAIT_MS)
    await expect(card).to_contain_text("delivered")
    hooks_before = len(receiver.got.get("hook", []))
    await card.get_by_role("button", name="Send test event").click()
    await expect(card.get_by_role("status")).to_contain_text("Test event: 204")
    await expect(card.locator("table tbody tr", has_text="test")).to_have_count(1)
    assert len(receiver.got["hook"]) == hooks_before + 1
    await shot(page, "delivery")

    # The key went only in headers: never in a URL, never in a worker's log.
    assert all(ALICE not in url for url in requested)
    assert ALICE not in page.url
    for worker in (ingest, enrich, notify, deliver):
        assert ALICE not in worker.log_path.read_text(errors="replace")


def story_alert(sub_id: str, n: int, story: str, source: str) -> Alert:
    return Alert(
        alert_id=f"{n:032x}",
        subscription_id=sub_id,
        subscription_name="guarantees",
        article_id=f"article-{n}",
        story_id=story,
        title=f"Report {n} on security guarantees for Ukraine",
        url=f"https://{source}.example/{n}",
        source=source,
        published_at=datetime(2025, 3, 1, 12, n % 60, tzinfo=UTC),
        matched_topics=["ukraine-security-guarantees"],
        matched_terms=["security guarantees", "Ukraine"],
        sentiment=Sentiment(score=-0.4, label="negative", method="test"),
        created_at=datetime.now(UTC),
    )


async def produce_alerts(bootstrap: str, topic: str, alerts: list[Alert]) -> None:
    producer = AIOKafkaProducer(**producer_config(KafkaSettings(bootstrap=bootstrap), "test"))
    await producer.start()
    try:
        for alert in alerts:
            await producer.send_and_wait(
                topic, alert.model_dump_json().encode(), key=alert.subscription_id.encode()
            )
    finally:
        await producer.stop()


async def test_stories_reconnects_and_a_disabled_webhook(
    kafka_bootstrap: str, topic_prefix: str, spawn: Spawn, receiver: Receiver, page: Page
) -> None:
    """Alerts produced straight to news.alerts (notify and deliver only): one row per story,
    expandable to its outlets; the page follows a notify restart without losing or repeating
    an alert; a webhook that answered 410 shows disabled and is re-enabled from the page."""
    notify = spawn("notify", NEWSWIRE_API__KEYS=KEYS, **LOOPBACK_WEBHOOKS)
    deliver = spawn("deliver", **LOOPBACK_WEBHOOKS)
    await notify.wait_ready()
    await deliver.wait_ready()
    alerts_topic = topic_prefix + "news.alerts"
    async with aiohttp.ClientSession() as http:
        alice = ApiClient(notify.api_url, ALICE, http)
        sub = await alice.call("POST", "/v1/subscriptions", {"name": "g", "query": QUERY})
        gone = await alice.call(
            "POST",
            "/v1/subscriptions",
            {"name": "gone hook", "query": QUERY, "webhook": {"url": receiver.url("gone")}},
        )
    sub_id, gone_id = sub.json()["id"], gone.json()["id"]
    await produce_alerts(
        kafka_bootstrap,
        alerts_topic,
        [
            story_alert(sub_id, 1, "story-a", "wire"),
            story_alert(sub_id, 2, "story-a", "daily"),
            story_alert(sub_id, 3, "story-b", "gazette"),
            story_alert(gone_id, 4, "story-c", "herald"),
        ],
    )

    await page.goto(notify.api_url + "/")
    await page.get_by_label("API key").fill(ALICE)
    await page.get_by_role("button", name="Sign in").click()
    # The first read of the alerts finds the server busy (a 429, as when its alert reads are
    # all taken; tests/integration/test_subscription_api.py has the server's side): the page
    # waits the Retry-After it was given and tries again.
    busy_answers: list[str] = []

    async def busy_once(route: Route) -> None:
        if busy_answers:
            await route.continue_()
            return
        busy_answers.append(route.request.url)
        await route.fulfill(
            status=429,
            headers={"Retry-After": "1", "Content-Type": "application/problem+json"},
            body=json.dumps({"title": "Too Many Alert Reads", "status": 429}),
        )

    await page.route("**/v1/alerts?limit=1000", busy_once)
    await page.get_by_role("link", name="Live alerts").click()
    await expect(page.locator("#stream-state")).to_have_text(
        "The server is busy; trying again…", timeout=WAIT_MS
    )
    await expect(page.locator("#stream-state")).to_have_text("Live", timeout=WAIT_MS)
    assert len(busy_answers) == 1
    await page.unroute("**/v1/alerts?limit=1000")
    rows = page.locator("#alerts-list > li")
    await expect(rows).to_have_count(3)
    # The filter keeps the stories that have every word typed, in any outlet's title or
    # source, the subscription or the topics; clearing it shows them all again.
    box = page.get_by_label("Filter")
    visible = page.locator("#alerts-list > li:visible")
    await box.fill("GAZETTE")
    await expect(visible).to_have_count(1)
    await expect(visible.first).to_have_attribute("data-story", "story-b")
    await expect(page.locator("#alerts-filter-count")).to_have_text("1 of 3 stories")
    await box.fill("daily wire")  # both outlets of story-a
    await expect(visible).to_have_count(1)
    await expect(visible.first).to_have_attribute("data-story", "story-a")
    await box.fill("nowhere")
    await expect(visible).to_have_count(0)
    await box.fill("")
    await expect(visible).to_have_count(3)
    await expect(page.locator("#alerts-filter-count")).to_have_text("")
    story = page.locator('#alerts-list > li[data-story="story-a"]')
    outlets = story.get_by_role("button", name="2 outlets")
    await outlets.focus()
    await page.keyboard.press("Enter")  # keyboard, not only the mouse
    await expect(outlets).to_have_attribute("aria-expanded", "true")
    await expect(story.locator(".outlets li")).to_have_count(2)
    await expect(story.locator(".outlets")).to_contain_text("wire")
    await expect(story.locator(".outlets")).to_contain_text("daily")

    # notify stops (its streams end), two alerts arrive meanwhile, notify comes back on the
    # same port: the page resumes from the last id it saw.
    assert notify.stop() == 0
    await expect(page.locator("#stream-state")).to_have_text("Reconnecting…", timeout=30_000)
    await produce_alerts(
        kafka_bootstrap,
        alerts_topic,
        [story_alert(sub_id, 5, "story-d", "wire"), story_alert(sub_id, 6, "story-a", "post")],
    )
    notify.start()
    await notify.wait_ready()
    await expect(page.locator("#stream-state")).to_have_text("Live", timeout=WAIT_MS)
    await expect(story.get_by_role("button", name="3 outlets")).to_be_visible(timeout=WAIT_MS)
    await expect(rows).to_have_count(4)  # story-a (now three outlets), b, c and d
    await produce_alerts(kafka_bootstrap, alerts_topic, [story_alert(sub_id, 7, "story-e", "x")])
    await expect(rows).to_have_count(5, timeout=WAIT_MS)
    await expect(rows.first).to_have_attribute("data-story", "story-e")  # newest first
    body = page.locator("body")
    await expect(body).to_have_attribute("data-streamed", "3")  # alerts 5, 6 and 7, once each
    assert await body.get_attribute("data-repeated") is None
    shown = await rows.evaluate_all("rows => rows.map(r => r.dataset.story)")
    assert len(shown) == len(set(shown))  # one row per story, none twice

    # The 410 disabled "gone hook"; the Delivery page says so and re-enables it.
    await page.get_by_role("link", name="Delivery").click()
    card = page.locator("#delivery-list section", has_text="gone hook")
    await expect(card.locator(".status-disabled")).to_have_text("disabled", timeout=WAIT_MS)
    await expect(card).to_contain_text("410")
    await shot(page, "delivery-disabled")
    await card.get_by_role("button", name="Re-enable").click()
    again = page.locator("#delivery-list section", has_text="gone hook")
    await expect(again.locator(".status-active")).to_have_text("active", timeout=10_000)

    # Edit (rename) and delete from the Subscriptions page; a delete asks first.
    await page.get_by_role("link", name="Subscriptions").click()
    row = page.locator("#subs-table tbody tr", has_text="gone hook")
    await row.get_by_role("button", name="Edit gone hook").click()
    await page.get_by_label("Name", exact=True).fill("renamed hook")
    await page.get_by_role("button", name="Save").click()
    renamed = page.locator("#subs-table tbody tr", has_text="renamed hook")
    await expect(renamed).to_have_count(1)
    asked: list[str] = []

    async def accept(dialog: Dialog) -> None:
        asked.append(dialog.message)
        await dialog.accept()

    page.on("dialog", accept)
    await renamed.get_by_role("button", name="Delete renamed hook").click()
    await expect(renamed).to_have_count(0)
    assert asked == ["Delete the subscription “renamed hook”?"]
    async with aiohttp.ClientSession() as http:
        gone_now = await ApiClient(notify.api_url, ALICE, http).call(
            "GET", f"/v1/subscriptions/{gone_id}"
        )
    assert gone_now.status == 404
