"""SIGKILL the ingest worker mid-stream and restart it: every distinct input comes out, once
per article id; duplicates in the input stay dropped; every poison input is dead-lettered."""

import json

import pytest
from aiokafka import AIOKafkaProducer

from schemas import topics
from schemas.article import Article
from services.ingest.normalize import single_article
from services.runtime import dlq
from services.runtime.io import raw_key, read_topic
from tests.e2e.conftest import Spawn
from tests.helpers import generated_article, raw_event
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e

DISTINCT = 1500
RESENT = 75  # 5 %: the same article sent again under another key
POISON = 15  # 1 %


async def test_sigkill_mid_stream(kafka_bootstrap: str, topic_prefix: str, spawn: Spawn) -> None:
    raw_topic = topic_prefix + topics.RAW.name
    events = [raw_event(generated_article(i)) for i in range(DISTINCT)]
    expected = {single_article(e).article_id for e in events}
    assert len(expected) == DISTINCT

    # This worker commits nothing before it is killed, so its successor re-reads everything it
    # did: the dedup table then holds entries for records that come back as replays.
    ingest = spawn(
        "ingest", NEWSWIRE_COMMIT__EVERY_SECONDS="3600", NEWSWIRE_COMMIT__EVERY_MESSAGES="1000000"
    )
    await ingest.wait_ready()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for i, event in enumerate(events):
            await producer.send(raw_topic, event.model_dump_json().encode(), key=raw_key(event))
            if i % 100 == 0:  # poison and copies, spread through the stream
                await producer.send(raw_topic, b'{"not": "an event"}', key=f"poison-{i}".encode())
                copy = events[i // 2]
                await producer.send(
                    raw_topic, copy.model_dump_json().encode(), key=f"copy-{i}".encode()
                )
        for j in range(POISON - DISTINCT // 100):
            await producer.send(raw_topic, b"\xff garbage", key=f"poison-tail-{j}".encode())
        for j in range(RESENT - DISTINCT // 100):
            copy = events[j * 7]
            await producer.send(
                raw_topic, copy.model_dump_json().encode(), key=f"copy-tail-{j}".encode()
            )
        await producer.flush()
    finally:
        await producer.stop()

    async def out_ids() -> list[str]:
        return [
            Article.model_validate_json(r.value).article_id
            async for r in read_topic(
                kafka_bootstrap, topic_prefix + topics.ARTICLES.name, idle_timeout=1
            )
        ]

    async def partway() -> bool:
        return len(await out_ids()) >= 300

    await wait_until(partway, 60, "ingest to be part-way through")
    ingest.kill()  # SIGKILL: no commit, no goodbye
    restarted = spawn("ingest")
    await restarted.wait_ready()

    async def all_out() -> bool:
        return set(await out_ids()) == expected

    await wait_until(all_out, 120, "every distinct article after the restart")
    ids = await out_ids()
    # Repeats can only be replays of the uncommitted tail: the same article id again.
    assert set(ids) == expected
    replays = len(ids) - DISTINCT
    assert replays >= 300, "the killed worker's output was not replayed: the test lost its point"
    assert replays <= DISTINCT  # each article at most once per worker life

    dead = [
        r async for r in read_topic(kafka_bootstrap, topic_prefix + "news.raw.dlq", idle_timeout=2)
    ]
    origins = {
        dlq.header_map(r.headers)[dlq.ORIGINAL_OFFSET]
        + ":"
        + dlq.header_map(r.headers)[dlq.ORIGINAL_PARTITION]
        for r in dead
    }
    assert len(origins) == POISON
    assert all(dlq.header_map(r.headers)[dlq.REASON] == "invalid_envelope" for r in dead)
    assert restarted.stop() == 0
    print(
        json.dumps(
            {"articles_out": len(ids), "replayed_repeats": replays, "dead_letters": len(dead)}
        )
    )
