"""How long a notify worker takes to rebuild its subscriptions from ``news.subscriptions``.

Writes N subscriptions (bench/percolate.py's generated shapes) to a fresh prefixed topic on
a running broker, then times what a starting worker does before it is ready: restore the
compacted topic into a :class:`SubscriptionStore` while the listener fills the percolator
index. Prints records/s and the index size.

    python -m bench.subscription_restore --bootstrap 127.0.0.1:9092 --subscriptions 100000
"""

import argparse
import asyncio
import time
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer

from bench.percolate import articles, subscriptions
from schemas import topics
from schemas.subscription import Subscription
from services.notify.step import follow_into
from services.notify.store import SubscriptionStore
from services.notify.subscriptions import SubscriptionIndex
from services.runtime.kafka import ensure_newswire_topics, producer_config
from services.runtime.settings import KafkaSettings


def subscription_records(count: int) -> list[Subscription]:
    """``count`` stored subscriptions in bench/percolate.py's generated shapes."""
    now = datetime.now(UTC)
    return [
        Subscription(
            id=s.id,
            owner=f"key{i % 100}",
            name=s.name,
            query=s.query,
            topics=s.topics,
            created_at=now,
            updated_at=now,
            version=1,
        )
        for i, s in enumerate(subscriptions(count, articles()))
    ]


async def write_subscriptions(bootstrap: str, topic: str, records: list[Subscription]) -> None:
    """Each record to ``topic`` (news.subscriptions) keyed by id, every write acknowledged."""
    kafka = KafkaSettings(bootstrap=bootstrap)
    producer = AIOKafkaProducer(**producer_config(kafka, "bench-restore"))
    await producer.start()
    try:
        sent = [
            await producer.send(topic, r.model_dump_json().encode(), key=r.id.encode())
            for r in records
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def run(bootstrap: str, count: int) -> None:
    prefix = f"bench-restore-{uuid.uuid4().hex[:8]}."
    await ensure_newswire_topics(bootstrap, prefix)
    topic = prefix + topics.SUBSCRIPTIONS.name
    records = subscription_records(count)
    await write_subscriptions(bootstrap, topic, records)
    kafka = KafkaSettings(bootstrap=bootstrap)

    store = SubscriptionStore(kafka)
    index = SubscriptionIndex()
    store.listen(follow_into(index))
    started = time.perf_counter()
    await store.start(bootstrap, topic, "bench-restore")
    took = time.perf_counter() - started
    await store.stop()
    print(
        f"{count:,} subscriptions restored from {topic} and indexed in {took:.1f} s "
        f"({count / took:,.0f}/s); index holds {len(index):,}"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--subscriptions", type=int, default=100_000)
    a = p.parse_args()
    asyncio.run(run(a.bootstrap, a.subscriptions))


if __name__ == "__main__":
    main()
