"""A key's alerts across all its subscriptions, read from ``news.alerts``: the recent ones
(``GET /v1/alerts``) and the live ones after them (``GET /v1/alerts/stream``).

Alerts are keyed by subscription id, so one key's alerts are spread over every partition.
Both calls read every partition, keep the records whose key is one of the key's
subscriptions, and describe where they stopped as a *positions* id: the next offset to read
on each partition, in partition order (``"120,98,131"``). The history answers with the
positions at the end of what it read, and each stream event carries the positions just after
it, so a client that hands the last id it saw back as ``Last-Event-ID`` gets exactly the
alerts after it: none missed (everything before the positions was read), none twice
(nothing before them is read again).
"""

import asyncio
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer
from pydantic import ValidationError

from schemas.alert import Alert
from services.runtime.kafka import topic_partitions

Wanted = Callable[[bytes], bool]
FETCH_BYTES = 1024 * 1024


def encode_positions(positions: list[int]) -> str:
    return ",".join(str(p) for p in positions)


def decode_positions(value: str, partitions: int) -> list[int]:
    """A positions id → offsets; ValueError when it is malformed or names another number of
    partitions than ``news.alerts`` has."""
    parts = value.split(",")
    if not all(p.isdigit() for p in parts):
        raise ValueError("expected comma-separated offsets, one per partition")
    if len(parts) != partitions:
        raise ValueError(f"names {len(parts)} partitions; news.alerts has {partitions}")
    return [int(p) for p in parts]


@dataclass(frozen=True, slots=True)
class FeedItem:
    event_id: str  # <partition>:<offset>
    alert: Alert
    positions: list[int]  # where to resume after this alert


def alerts_consumer(bootstrap: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        client_id="newswire-notify-alerts",
        enable_auto_commit=False,
        # Only committed alerts: under exactly-once, aborted ones never reach a subscriber.
        isolation_level="read_committed",
        # One reader's memory: at most this much fetched and not yet handled.
        max_partition_fetch_bytes=FETCH_BYTES,
        fetch_max_bytes=FETCH_BYTES,
        auto_offset_reset="earliest",
    )


def _alert(value: bytes | None) -> Alert | None:
    if value is None:
        return None
    try:
        return Alert.model_validate_json(value)
    except ValidationError:
        return None  # not an alert (a digest or a stray record): not shown


async def recent(
    consumer: AIOKafkaConsumer,
    topic: str,
    wanted: Wanted,
    limit: int,
    scan_per_partition: int,
    timeout: float = 10.0,
) -> tuple[list[FeedItem], list[int], int]:
    """The newest ``limit`` wanted alerts among the last ``scan_per_partition`` records of
    each partition, newest first; the positions at the end of what was read; records read.

    ``consumer`` is started and not yet assigned."""
    tps = await topic_partitions(consumer, topic)
    consumer.assign(tps)
    ends = await consumer.end_offsets(tps)
    begins = await consumer.beginning_offsets(tps)
    for tp in tps:
        consumer.seek(tp, max(begins[tp], ends[tp] - scan_per_partition))
    found: list[tuple[int, FeedItem]] = []
    scanned = 0
    left = {tp for tp in tps if await consumer.position(tp) < ends[tp]}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while left and loop.time() < deadline:
        batch = await consumer.getmany(*left, timeout_ms=200, max_records=2000)
        for tp, records in batch.items():
            for record in records:
                if record.offset >= ends[tp]:
                    break
                scanned += 1
                if record.key is None or not wanted(record.key):
                    continue
                alert = _alert(record.value)
                if alert is not None:
                    item = FeedItem(f"{tp.partition}:{record.offset}", alert, [])
                    found.append((record.timestamp, item))
        left = {tp for tp in left if await consumer.position(tp) < ends[tp]}
    if left:
        raise TimeoutError(f"news.alerts not read to its end in {timeout:.0f}s")
    found.sort(key=lambda pair: pair[0], reverse=True)
    positions = [ends[tp] for tp in tps]
    return [item for _, item in found[:limit]], positions, scanned


async def follow(
    consumer: AIOKafkaConsumer,
    topic: str,
    wanted: Callable[[], Wanted],
    start: list[int] | None,
    stopping: asyncio.Event,
) -> AsyncGenerator[FeedItem | None, None]:
    """Wanted alerts from ``start`` (or from the end), each with the positions after it;
    ``None`` after each poll, so the caller can send heartbeats and notice a closed client.

    ``wanted`` is asked again at every poll (subscriptions come and go). ``consumer`` is
    started and not yet assigned. A ``start`` naming another number of partitions than the
    topic has is a ValueError (raised before anything is yielded)."""
    tps = await topic_partitions(consumer, topic)
    if start is not None and len(start) != len(tps):
        raise ValueError(f"names {len(start)} partitions; news.alerts has {len(tps)}")
    consumer.assign(tps)
    if start is None:
        await consumer.seek_to_end(*tps)
        positions = [await consumer.position(tp) for tp in tps]
    else:
        ends = await consumer.end_offsets(tps)
        for tp, offset in zip(tps, start, strict=True):
            if offset > ends[tp]:
                raise ValueError(
                    f"partition {tp.partition} is at {ends[tp]}; the id names {offset}"
                )
            consumer.seek(tp, offset)
        positions = list(start)
    while not stopping.is_set():
        batch = await consumer.getmany(timeout_ms=500, max_records=200)
        keep = wanted()
        for tp, records in batch.items():
            for record in records:
                positions[tp.partition] = record.offset + 1
                if record.key is None or not keep(record.key):
                    continue
                alert = _alert(record.value)
                if alert is not None:
                    yield FeedItem(f"{tp.partition}:{record.offset}", alert, list(positions))
            # A transaction marker or an aborted record moves the position past the last
            # record returned; a resume from there is still exact.
            positions[tp.partition] = max(positions[tp.partition], await consumer.position(tp))
        yield None
