"""The three workers as processes on the real broker: the seed article ends as one alert."""

import json

import pytest

from schemas import topics
from schemas.alert import Alert
from services.demo import sample_files
from services.ingest.normalize import single_article
from services.notify.seed import load_seed
from services.notify.settings import DEFAULT_SUBSCRIPTIONS
from services.runtime import dlq
from services.runtime.io import produce_raw, raw_event_from_file, read_topic
from services.runtime.settings import KafkaSettings, RuntimeSettings
from tests.e2e.conftest import Spawn
from tests.helpers import raw_event, seed_text
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("guarantee", ["at_least_once", "exactly_once"])
async def test_seed_becomes_exactly_one_alert(
    kafka_bootstrap: str, topic_prefix: str, spawn: Spawn, guarantee: str
) -> None:
    # Subscriptions live in news.subscriptions; the seed file holds the one this test expects.
    await load_seed(
        RuntimeSettings(kafka=KafkaSettings(bootstrap=kafka_bootstrap), topic_prefix=topic_prefix),
        DEFAULT_SUBSCRIPTIONS,
        owner="e2e",
    )
    mode = {"NEWSWIRE_PROCESSING_GUARANTEE": guarantee}
    ingest, enrich, notify = (
        spawn("ingest", **mode),
        spawn("enrich", **mode),
        spawn("notify", **mode),
    )
    for w in (ingest, enrich, notify):
        await w.wait_ready()

    files = sample_files()  # the seed, four unrelated articles and one broken payload
    events = [raw_event_from_file(f, source="e2e") for f in files]
    await produce_raw(KafkaSettings(bootstrap=kafka_bootstrap), topic_prefix + "news.raw", events)
    valid = len(files) - 1

    async def notify_saw_everything() -> bool:
        return await notify.metric("newswire_records_consumed_total") >= valid

    await wait_until(notify_saw_everything, 60, "notify to consume every enriched article")

    alerts = [
        Alert.model_validate_json(r.value)
        async for r in read_topic(
            kafka_bootstrap, topic_prefix + topics.ALERTS.name, idle_timeout=2
        )
    ]
    expected = single_article(raw_event(seed_text(), source="e2e"))
    assert len(alerts) == 1
    [alert] = alerts
    assert alert.subscription_id == "sub-ukraine-security-guarantees"
    assert alert.title == expected.title
    assert alert.article_id == expected.article_id
    assert alert.source == "e2e"

    # The broken payload is in the DLQ, byte for byte, with its reason; nothing else is.
    dead = [
        r async for r in read_topic(kafka_bootstrap, topic_prefix + "news.raw.dlq", idle_timeout=2)
    ]
    assert len(dead) == 1
    headers = dlq.header_map(dead[0].headers)
    assert headers[dlq.REASON] == "unparseable_payload"
    assert "date line" in headers[dlq.EXCEPTION_MESSAGE]
    broken = next(e for e, f in zip(events, files, strict=True) if f.name == "not-an-article.txt")
    assert dead[0].value == broken.model_dump_json().encode()

    # The workers stay healthy and their metrics show the counts.
    for w in (ingest, enrich, notify):
        assert (await w.get("/readyz"))[0] == 200
        assert (await w.get("/healthz"))[0] == 200
    assert await ingest.metric("newswire_records_consumed_total", outcome="ok") == valid
    assert await ingest.metric("newswire_records_consumed_total", outcome="dead_letter") == 1
    assert await ingest.metric("newswire_dead_letters_total", reason="unparseable_payload") == 1
    assert await enrich.metric("newswire_records_consumed_total", outcome="ok") == valid
    assert (
        await notify.metric("newswire_records_produced_total", topic=topic_prefix + "news.alerts")
        == 1
    )

    # SIGTERM: each worker finishes, commits and exits 0.
    assert [w.stop() for w in (ingest, enrich, notify)] == [0, 0, 0]

    # One article can be followed through every service's JSON log by its id.
    for w in (ingest, enrich, notify):
        entries = [json.loads(line) for line in w.log_path.read_text().splitlines()]
        started = next(e for e in entries if e["event"] == "worker_started")
        assert started["guarantee"] == guarantee
        mine = [e for e in entries if e.get("article_id") == expected.article_id]
        assert mine, f"no log line of {w.service} names the seed article"
        assert all(e["service"] == w.service for e in mine)
        assert all({"topic", "partition", "offset", "timestamp", "level"} <= e.keys() for e in mine)
