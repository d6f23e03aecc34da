"""The physical ceiling: bare aiokafka consume → produce of the same bytes, committed after acks.

Run as a child process by bench/stages.py (so its RSS is its own), or by hand:

    python bench/passthrough.py --bootstrap 127.0.0.1:9092 --source T --sink T2 --expect 5000

It does what a newswire stage does minus the stage: getmany, send every value to the sink with
an idempotent acks=all producer, wait for the acks, commit. It prints one JSON line.
"""

import argparse
import asyncio
import json
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.common import peak_rss_mb


async def run(
    bootstrap: str, source: str, sink: str, group: str, expect: int, linger_ms: int
) -> dict[str, float]:
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=linger_ms
    )
    await consumer.start()
    await producer.start()
    done = 0
    started: float | None = None
    cpu0 = time.process_time()
    try:
        while done < expect:
            batch = await consumer.getmany(timeout_ms=200, max_records=500)
            if not batch:
                continue
            started = started or time.perf_counter()
            futures = []
            for records in batch.values():
                for r in records:
                    futures.append(await producer.send(sink, r.value, key=r.key))
            await asyncio.gather(*futures)
            await consumer.commit()
            done += len(futures)
        elapsed = time.perf_counter() - (started or time.perf_counter())
    finally:
        await consumer.stop()
        await producer.stop()
    return {
        "records": done,
        "seconds": elapsed,
        "cpu_seconds": time.process_time() - cpu0,
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--source", required=True)
    p.add_argument("--sink", required=True)
    p.add_argument("--group", default="bench-passthrough")
    p.add_argument("--expect", type=int, required=True)
    p.add_argument("--linger-ms", type=int, default=5)
    a = p.parse_args()
    print(
        json.dumps(asyncio.run(run(a.bootstrap, a.source, a.sink, a.group, a.expect, a.linger_ms)))
    )


if __name__ == "__main__":
    main()
