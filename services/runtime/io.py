"""Producing raw files as a scraper would, and reading topics back (``produce``, ``tail``)."""

import asyncio
import base64
import hashlib
import json
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from schemas.raw import RawArticleEvent
from services.runtime.dlq import Headers, header_map
from services.runtime.kafka import assign_all, producer_config
from services.runtime.settings import KafkaSettings

_CONTENT_TYPES = {
    ".txt": "text/plain",
    ".json": "application/json",
    ".html": "text/html",
    ".htm": "text/html",
    ".xml": "application/xml",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
}


def content_type_for(path: Path) -> str:
    return _CONTENT_TYPES.get(path.suffix.lower(), "text/plain")


def raw_event_from_file(
    path: Path, source: str, content_type: str | None = None, url: str | None = None
) -> RawArticleEvent:
    return raw_event_from_bytes(
        path.read_bytes(), source, content_type or content_type_for(path), url
    )


def raw_event_from_bytes(
    data: bytes, source: str, content_type: str | None = None, url: str | None = None
) -> RawArticleEvent:
    """Wraps a document as a scraper would: text when it is UTF-8, else base64 bytes."""
    encoding: Literal["text", "base64"]
    try:
        payload, encoding = data.decode("utf-8"), "text"
    except UnicodeDecodeError:
        payload, encoding = base64.b64encode(data).decode(), "base64"
    return RawArticleEvent(
        source=source,
        content_type=content_type or "text/plain",
        url=url,
        fetched_at=datetime.now(UTC),
        payload_encoding=encoding,
        payload=payload,
    )


def raw_key(event: RawArticleEvent) -> bytes:
    """The URL when there is one, else a digest of the payload: a re-sent article lands on
    the same partition as its first copy."""
    if event.url:
        return event.url.encode()
    return hashlib.blake2b(event.payload.encode(), digest_size=16).hexdigest().encode()


async def produce_raw(
    kafka: KafkaSettings,
    topic: str,
    events: Iterable[RawArticleEvent],
    headers: Sequence[Headers] | None = None,
) -> list[tuple[int, int]]:
    """Sends each event and waits for the broker's acknowledgement; returns (partition, offset).

    ``headers``: one list per event (a scraper's ``traceparent``, say), in the same order.
    """
    batch = list(events)
    per_event = list(headers) if headers is not None else [[] for _ in batch]
    if len(per_event) != len(batch):
        raise ValueError(f"{len(per_event)} header lists for {len(batch)} events")
    producer = AIOKafkaProducer(**producer_config(kafka, "newswire-produce"))
    await producer.start()
    try:
        futures = [
            await producer.send(
                topic, e.model_dump_json().encode(), key=raw_key(e), headers=h or None
            )
            for e, h in zip(batch, per_event, strict=True)
        ]
        sent = await asyncio.gather(*futures)
        return [(md.partition, md.offset) for md in sent]
    finally:
        await producer.stop()


def record_as_dict(record: Any) -> dict[str, Any]:
    value: Any
    try:
        value = json.loads(record.value) if record.value is not None else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        value = record.value.decode("utf-8", "replace")
    return {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "timestamp": record.timestamp,
        "key": record.key.decode("utf-8", "replace") if record.key is not None else None,
        "headers": header_map(record.headers),
        "value": value,
    }


async def read_topic(
    bootstrap: str,
    topic: str,
    *,
    from_beginning: bool = True,
    idle_timeout: float = 5.0,
    max_records: int | None = None,
    total_timeout: float | None = None,
) -> AsyncIterator[Any]:
    """Yields records of every partition of ``topic`` without joining a group.

    Stops after ``max_records``, after ``idle_timeout`` seconds without a record, or after
    ``total_timeout`` seconds in all, whichever comes first.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level="read_committed"
    )
    await consumer.start()
    try:
        tps = await assign_all(consumer, topic)
        if from_beginning:
            await consumer.seek_to_beginning(*tps)
        else:
            await consumer.seek_to_end(*tps)
        seen = 0
        started = last = time.monotonic()
        while True:
            batch = await consumer.getmany(timeout_ms=200)
            now = time.monotonic()
            for records in batch.values():
                for record in records:
                    yield record
                    seen += 1
                    if max_records is not None and seen >= max_records:
                        return
                last = now
            if now - last >= idle_timeout:
                return
            if total_timeout is not None and now - started >= total_timeout:
                return
    finally:
        await consumer.stop()
