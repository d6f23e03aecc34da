"""Operator tools for dead-letter topics: list what is there and why; replay it after a fix.

Replay sends each record's original key, value and headers (error headers removed, a
``newswire.replayed.from`` header added) back to the topic it came from, and remembers its
progress in the consumer group ``newswire-dlq-replay`` (committed after the broker acknowledged
the re-sent records), so running it twice does not re-send twice. Re-sending an article that
did get through after all is harmless: ingest drops it as a duplicate.
"""

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from services.runtime import dlq
from services.runtime.kafka import assign_all, producer_config
from services.runtime.settings import KafkaSettings

REPLAY_GROUP = "newswire-dlq-replay"


def _preview(value: bytes, chars: int) -> str:
    """The start of what failed: an envelope's payload when the value is one, else the bytes."""
    try:
        envelope = json.loads(value)
    except (ValueError, UnicodeDecodeError):
        envelope = None
    if isinstance(envelope, dict) and isinstance(envelope.get("payload"), str):
        return str(envelope["payload"])[:chars]
    return value[:chars].decode("utf-8", "replace")


def describe(record: Any, preview: int = 160) -> dict[str, Any]:
    h = dlq.header_map(record.headers)
    value = record.value or b""
    return {
        "partition": record.partition,
        "offset": record.offset,
        "reason": h.get(dlq.REASON),
        "error_class": h.get(dlq.EXCEPTION_CLASS),
        "message": h.get(dlq.EXCEPTION_MESSAGE),
        "stage": h.get(dlq.STAGE),
        "original": {
            "topic": h.get(dlq.ORIGINAL_TOPIC),
            "partition": int(h[dlq.ORIGINAL_PARTITION]) if dlq.ORIGINAL_PARTITION in h else None,
            "offset": int(h[dlq.ORIGINAL_OFFSET]) if dlq.ORIGINAL_OFFSET in h else None,
        },
        "key": record.key.decode("utf-8", "replace") if record.key is not None else None,
        "bytes": len(value),
        "preview": _preview(value, preview),
    }


@dataclass
class ReplayReport:
    replayed: int = 0
    skipped: int = 0
    targets: dict[str, int] = field(default_factory=dict)


async def replay(
    kafka: KafkaSettings,
    dlq_topic: str,
    *,
    group: str = REPLAY_GROUP,
    reason: str | None = None,
    dry_run: bool = False,
) -> ReplayReport:
    """Re-sends the DLQ records from the group's committed position to the current end.

    With ``reason``, only records with that reason are re-sent; the others are passed over
    (and stay in the topic: list them, or replay them with another group).
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka.bootstrap,
        group_id=f"{group}.{dlq_topic}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    producer = AIOKafkaProducer(**producer_config(kafka, "newswire-dlq-replay"))
    await consumer.start()
    await producer.start()
    report = ReplayReport()
    try:
        tps = await assign_all(consumer, dlq_topic)
        ends = await consumer.end_offsets(tps)
        while True:
            behind = [tp for tp in tps if await consumer.position(tp) < ends[tp]]
            if not behind:
                break
            batch = await consumer.getmany(*behind, timeout_ms=1000)
            sends = []
            for records in batch.values():
                for r in records:
                    if r.offset >= ends[TopicPartition(r.topic, r.partition)]:
                        continue
                    h = dlq.header_map(r.headers)
                    target = h.get(dlq.ORIGINAL_TOPIC)
                    if target is None or (reason is not None and h.get(dlq.REASON) != reason):
                        report.skipped += 1
                        continue
                    report.replayed += 1
                    report.targets[target] = report.targets.get(target, 0) + 1
                    if dry_run:
                        continue
                    headers = [
                        *dlq.without_error_headers(list(r.headers)),
                        (dlq.REPLAYED_FROM, f"{r.topic}:{r.partition}:{r.offset}".encode()),
                    ]
                    sends.append(await producer.send(target, r.value, key=r.key, headers=headers))
            await asyncio.gather(*sends)
            if not dry_run:
                await consumer.commit()
    finally:
        await producer.stop()
        await consumer.stop()
    return report
