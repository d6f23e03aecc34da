"""Subscriptions made through a running notify worker's API are matched by it, deleted ones
stop matching, a restarted worker rebuilds its index from news.subscriptions, and the SSE
stream carries the alerts: real processes, real HTTP, the real broker."""

import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiokafka import AIOKafkaProducer

from schemas import topics
from schemas.alert import Alert
from schemas.enriched import EnrichedArticle
from services.notify.apikeys import KeyRing, new_key, parse_hash_lines
from services.notify.settings import DEFAULT_SUBSCRIPTIONS
from services.runtime.io import read_topic
from services.runtime.kafka import producer_config
from services.runtime.local import WorkerProcess
from services.runtime.settings import KafkaSettings
from tests.api_client import ApiClient, read_event
from tests.e2e.conftest import Spawn
from tests.e2e.test_cli import newswire
from tests.helpers import generated_article, seed_text
from tests.unit.test_notify import enriched_of
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e

ALICE, ALICE_LINE = new_key("alice")
KEYS = json.dumps(dict([ALICE_LINE.split()]))


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def publish(bootstrap: str, prefix: str, *articles: EnrichedArticle) -> None:
    """As enrich would: EnrichedArticle records on news.enriched, keyed by article id."""
    producer = AIOKafkaProducer(**producer_config(KafkaSettings(bootstrap=bootstrap), "e2e"))
    await producer.start()
    try:
        for a in articles:
            await producer.send_and_wait(
                prefix + topics.ENRICHED.name,
                a.model_dump_json().encode(),
                key=a.article.article_id.encode(),
            )
    finally:
        await producer.stop()


async def alerts(bootstrap: str, prefix: str) -> list[Alert]:
    return [
        Alert.model_validate_json(r.value)
        async for r in read_topic(bootstrap, prefix + topics.ALERTS.name, idle_timeout=1)
    ]


async def consumed(worker: WorkerProcess, n: int) -> None:
    async def done() -> bool:
        return await worker.metric("newswire_records_consumed_total") >= n

    await wait_until(done, 60, f"{worker.service} to consume {n} records")


async def test_api_subscriptions_drive_a_running_worker(
    kafka_bootstrap: str, topic_prefix: str, spawn: Spawn, http: aiohttp.ClientSession
) -> None:
    notify = spawn("notify", NEWSWIRE_API__KEYS=KEYS)
    await notify.wait_ready()
    api = ApiClient(notify.api_url, ALICE, http)
    guarantees = (
        await api.call(
            "POST",
            "/v1/subscriptions",
            {
                "name": "guarantees",
                "query": '"security guarantee*" NEAR/10 ukrain*',
                "stream": True,
            },
        )
    ).json()["id"]

    # Matched by the running worker, and streamed live to the owner.
    seed = enriched_of(seed_text())
    async with api.stream(guarantees) as stream:
        await publish(kafka_bootstrap, topic_prefix, seed)
        event = await read_event(stream, 30)
    streamed = Alert.model_validate_json(event["data"])
    assert streamed.subscription_id == guarantees
    assert streamed.article_id == seed.article.article_id
    [alert] = await alerts(kafka_bootstrap, topic_prefix)
    assert alert.alert_id == streamed.alert_id

    # The dry run answers from what this worker saw.
    dry = (await api.call("POST", f"/v1/subscriptions/{guarantees}/test")).json()
    assert [m["article_id"] for m in dry["matches"]] == [seed.article.article_id]

    # Deleted: the next matching article raises no alert for it; a new subscription, made
    # before the restart, must survive it.
    assert (await api.call("DELETE", f"/v1/subscriptions/{guarantees}")).status == 204
    ukraine = (
        await api.call("POST", "/v1/subscriptions", {"name": "ukraine", "query": "ukrain*"})
    ).json()["id"]
    second = enriched_of(generated_article(1, "guarantees"))
    await publish(kafka_bootstrap, topic_prefix, second)
    await consumed(notify, 2)
    after_delete = [
        a
        for a in await alerts(kafka_bootstrap, topic_prefix)
        if a.article_id == second.article.article_id
    ]
    assert [a.subscription_id for a in after_delete] == [ukraine]

    # A restarted worker rebuilds its index from news.subscriptions alone.
    assert notify.stop() == 0
    restarted = spawn("notify", NEWSWIRE_API__KEYS=KEYS)
    await restarted.wait_ready()
    listed = (
        await ApiClient(restarted.api_url, ALICE, http).call("GET", "/v1/subscriptions")
    ).json()
    assert [s["id"] for s in listed["items"]] == [ukraine]
    third = enriched_of(generated_article(2, "guarantees"))
    await publish(kafka_bootstrap, topic_prefix, third)
    await consumed(restarted, 1)

    async def third_alerted() -> bool:
        return any(
            a.article_id == third.article.article_id
            for a in await alerts(kafka_bootstrap, topic_prefix)
        )

    await wait_until(third_alerted, 30, "an alert for the article after the restart")
    for_third = [
        a
        for a in await alerts(kafka_bootstrap, topic_prefix)
        if a.article_id == third.article.article_id
    ]
    assert [a.subscription_id for a in for_third] == [ukraine]
    assert restarted.stop() == 0


async def test_story_mode_alerts_once_per_story_across_a_restart(
    kafka_bootstrap: str, topic_prefix: str, spawn: Spawn, http: aiohttp.ClientSession
) -> None:
    notify = spawn("notify", NEWSWIRE_API__KEYS=KEYS)
    await notify.wait_ready()
    api = ApiClient(notify.api_url, ALICE, http)
    query = {"query": '"security guarantees" AND ukrain*'}
    story = (
        await api.call("POST", "/v1/subscriptions", {"name": "story", "mode": "story", **query})
    ).json()["id"]
    every = (await api.call("POST", "/v1/subscriptions", {"name": "every", **query})).json()["id"]

    def in_story(i: int) -> EnrichedArticle:
        return enriched_of(generated_article(i, "guarantees")).model_copy(
            update={"story_id": "story-1"}
        )

    await publish(kafka_bootstrap, topic_prefix, in_story(1), in_story(2))
    await consumed(notify, 2)
    assert notify.stop() == 0
    # The story's window is remembered in news.notify.story_alerts, not in the process.
    restarted = spawn("notify", NEWSWIRE_API__KEYS=KEYS)
    await restarted.wait_ready()
    await publish(kafka_bootstrap, topic_prefix, in_story(3))
    await consumed(restarted, 1)

    async def three_for_every() -> bool:
        found = await alerts(kafka_bootstrap, topic_prefix)
        return sum(a.subscription_id == every for a in found) == 3

    await wait_until(three_for_every, 30, "three alerts for the every-article subscription")
    found = await alerts(kafka_bootstrap, topic_prefix)
    assert [a.article_id for a in found if a.subscription_id == story] == [
        in_story(1).article.article_id
    ]
    assert (
        await restarted.metric("newswire_records_dropped_total", reason="story_already_alerted")
        == 1
    )
    assert restarted.stop() == 0


def test_cli_loads_a_seed_once_and_makes_keys(kafka_bootstrap: str, topic_prefix: str) -> None:
    env = {"NEWSWIRE_KAFKA__BOOTSTRAP": kafka_bootstrap, "NEWSWIRE_TOPIC_PREFIX": topic_prefix}
    seed = str(DEFAULT_SUBSCRIPTIONS)
    first = newswire("subscriptions", "load", seed, "--owner", "ops", env=env)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["written"] == ["sub-ukraine-security-guarantees"]
    again = json.loads(newswire("subscriptions", "load", seed, "--owner", "ops", env=env).stdout)
    assert again["written"] == []
    assert again["unchanged"] == ["sub-ukraine-security-guarantees"]
    taken = newswire("subscriptions", "load", seed, "--owner", "intruder", env=env)
    assert taken.returncode == 2
    assert "belongs to key 'ops'" in taken.stderr

    made = newswire("apikey", "new", "--id", "ops", env=env)
    assert made.returncode == 0
    key = made.stdout.split("it is not stored anywhere): ")[1].split()[0]
    line = made.stdout.split("NEWSWIRE_API__KEYS_FILE: ")[1].splitlines()[0]
    assert KeyRing(parse_hash_lines(line)).authenticate(key) == "ops"


async def test_two_workers_share_subscriptions_through_the_topic(
    kafka_bootstrap: str, topic_prefix: str, spawn: Spawn, http: aiohttp.ClientSession
) -> None:
    """Made through one worker's API, followed live by the other, which matches it on the
    partitions it owns."""
    first, second = (
        spawn("notify", NEWSWIRE_API__KEYS=KEYS),
        spawn("notify", NEWSWIRE_API__KEYS=KEYS),
    )
    await first.wait_ready()
    await second.wait_ready()

    async def both_assigned() -> bool:
        counts = [await w.metric("newswire_assigned_partitions") for w in (first, second)]
        return all(c > 0 for c in counts) and sum(counts) == 3

    await wait_until(both_assigned, 60, "the three partitions split between the workers")
    created = await ApiClient(first.api_url, ALICE, http).call(
        "POST", "/v1/subscriptions", {"name": "ukraine", "query": "ukrain*"}
    )
    sub_id = created.json()["id"]
    on_second = ApiClient(second.api_url, ALICE, http)

    async def second_follows() -> bool:
        return (await on_second.call("GET", f"/v1/subscriptions/{sub_id}")).status == 200

    await wait_until(second_follows, 10, "the second worker to follow the new subscription")
    articles = [enriched_of(generated_article(i, "guarantees")) for i in range(20)]
    await publish(kafka_bootstrap, topic_prefix, *articles)

    async def all_alerted() -> bool:
        return len(await alerts(kafka_bootstrap, topic_prefix)) >= len(articles)

    await wait_until(all_alerted, 60, "an alert for every article")
    found = await alerts(kafka_bootstrap, topic_prefix)
    assert sorted(a.article_id for a in found) == sorted(a.article.article_id for a in articles)
    assert {a.subscription_id for a in found} == {sub_id}
    for worker in (first, second):
        assert await worker.metric("newswire_records_produced_total") > 0, worker.log_tail()
