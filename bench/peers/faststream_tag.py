"""The tagging stage in FastStream (Kafka broker, aiokafka underneath), written idiomatically.

    python -m bench.peers.faststream_tag --bootstrap HOST:PORT --prefix P. [--group G]
        [--ack ack|ack_first|batch]

A subscriber whose parameter is typed ``Article`` (FastStream parses and validates the JSON
into it) and whose return value is published by ``@broker.publisher`` as a ``KafkaResponse``
(so the key is the article id, as the others key it). Settings, and their defaults:

- ``acks="all"``, ``enable_idempotence=True`` (defaults: acks=1, no idempotence), as newswire;
- ``ack_policy``: ``ack`` (default here): the offset is committed after the handler returned,
  i.e. after its output was acknowledged: at-least-once as newswire. FastStream's own
  default for Kafka is ``ack_first`` (auto-commit every 5 s, at-most-once), run as a variant;
- ``linger_ms``: left at its default 0. FastStream awaits each publish's acknowledgement
  before the handler returns, so a 5 ms linger would add 5 ms to every message; the per-message
  publish-and-wait is how FastStream works, not something set here.
- ``auto_offset_reset="earliest"`` (default ``latest``): the backlog is there before it starts;
- per-message "Received"/"Processed" logs at DEBUG (their level is FastStream's ``log_level``,
  INFO by default), so they are filtered as newswire's per-record debug logs are.
"""

import argparse
import asyncio
import logging

from faststream import AckPolicy, FastStream
from faststream.kafka import KafkaBroker, KafkaResponse

from bench.peers.work import SINK, Tagged, peer_arguments, tag_article
from schemas.article import Article


def build_batch(bootstrap: str, prefix: str, group: str) -> FastStream:
    """The batch variant: a ``batch=True`` subscriber (up to 500 records, newswire's
    max_batch) that publishes every output without awaiting it, then awaits them all before
    returning (so the commit after the handler still follows the acks); linger 5 ms and
    256 KiB record batches as newswire, since acks are no longer awaited one by one."""
    broker = KafkaBroker(
        bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=256 * 1024,
        log_level=logging.DEBUG,
    )
    sink = prefix + SINK

    @broker.subscriber(
        prefix + "news.articles",
        group_id=group,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.ACK,
        batch=True,
        max_records=500,
    )
    async def handle(articles: list[Article]) -> None:
        sent = []
        for article in articles:
            tagged: Tagged = tag_article(article)
            sent.append(
                await broker.publish(
                    tagged.model_dump_json(),
                    sink,
                    key=article.article_id.encode(),
                    no_confirm=True,
                )
            )
        await asyncio.gather(*sent)

    return FastStream(broker)


def build(bootstrap: str, prefix: str, group: str, ack: str) -> FastStream:
    if ack == "batch":
        return build_batch(bootstrap, prefix, group)
    broker = KafkaBroker(bootstrap, acks="all", enable_idempotence=True, log_level=logging.DEBUG)
    policy = AckPolicy.ACK if ack == "ack" else AckPolicy.ACK_FIRST

    @broker.subscriber(
        prefix + "news.articles",
        group_id=group,
        auto_offset_reset="earliest",
        ack_policy=policy,
    )
    @broker.publisher(prefix + SINK)
    async def handle(article: Article) -> KafkaResponse:
        tagged: Tagged = tag_article(article)
        return KafkaResponse(tagged.model_dump_json(), key=article.article_id.encode())

    return FastStream(broker)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--ack", choices=["ack", "ack_first", "batch"], default="ack")
    a = peer_arguments(p)
    app = build(a.bootstrap, a.prefix, a.group or f"{a.prefix}faststream-tag", a.ack)
    asyncio.run(app.run())


if __name__ == "__main__":
    main()
