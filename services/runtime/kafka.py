"""aiokafka clients as newswire configures them, and topic administration."""

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from schemas.topics import topic_configs
from services.runtime.errors import BrokerCallTimeout
from services.runtime.settings import KafkaSettings

T = TypeVar("T")


async def bounded(call: Awaitable[T], seconds: float, what: str) -> T:
    """Awaits a broker call for at most ``seconds``; :class:`BrokerCallTimeout` after that.

    aiokafka shields some calls (a transaction's commit) and retries others forever while the
    broker is away; a worker must notice, report it and rebuild rather than wait with it.

    asyncio.timeout, not wait_for: on Python 3.11, wait_for returns the call's result when
    its task is cancelled at the moment the result arrives, and the cancellation is lost
    (CPython gh-86296, fixed in 3.12). A cancelled webhook lane then went on retrying.
    """
    try:
        async with asyncio.timeout(seconds):
            return await call
    except TimeoutError as exc:
        raise BrokerCallTimeout(f"{what}: no answer from the broker in {seconds:g} s") from exc


async def stop_quietly(client: Any, seconds: float) -> None:
    """Stops a producer or consumer being replaced; a broker that is down must not hold it
    up (pending sends are abandoned: their offsets were never committed)."""
    try:
        await asyncio.wait_for(client.stop(), seconds)
    except (TimeoutError, KafkaError, OSError):
        pass
    except asyncio.CancelledError:
        # aiokafka's fetcher re-raises the cancellation of its own fetch tasks from stop()
        # while the broker is away. Only a cancellation of this task itself goes on up.
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise


def producer_config(kafka: KafkaSettings, client_id: str) -> dict[str, Any]:
    # acks=all + idempotence: a retried send is never written twice, and an acknowledged
    # record is on every in-sync replica before we commit the input offset behind it.
    return {
        "bootstrap_servers": kafka.bootstrap,
        "client_id": client_id,
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": kafka.linger_ms,
        "request_timeout_ms": kafka.request_timeout_ms,
        "max_request_size": kafka.max_request_bytes,
        "max_batch_size": kafka.max_batch_bytes,
    }


def consumer_config(kafka: KafkaSettings, client_id: str, group_id: str) -> dict[str, Any]:
    static = {"group_instance_id": kafka.group_instance_id} if kafka.group_instance_id else {}
    return {
        **static,
        "bootstrap_servers": kafka.bootstrap,
        "client_id": client_id,
        "group_id": group_id,
        # The loop commits; auto-commit would commit offsets whose outputs are not yet acked.
        "enable_auto_commit": False,
        # A new group starts at the beginning: nothing published before a worker existed is lost.
        "auto_offset_reset": "earliest",
        # Skip aborted transactional writes (exactly-once producers upstream, see issue 8).
        "isolation_level": "read_committed",
        "session_timeout_ms": kafka.session_timeout_ms,
        "heartbeat_interval_ms": kafka.heartbeat_interval_ms,
        "request_timeout_ms": max(kafka.request_timeout_ms, kafka.session_timeout_ms + 5_000),
        "max_partition_fetch_bytes": kafka.max_request_bytes,
        "fetch_max_bytes": max(kafka.max_request_bytes, 52_428_800),
    }


def make_producer(kafka: KafkaSettings, client_id: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(**producer_config(kafka, client_id))


def make_transactional_producer(
    kafka: KafkaSettings, client_id: str, transactional_id: str
) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        **producer_config(kafka, client_id),
        transactional_id=transactional_id,
        transaction_timeout_ms=kafka.transaction_timeout_ms,
    )


def make_consumer(kafka: KafkaSettings, client_id: str, group_id: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(**consumer_config(kafka, client_id, group_id))


async def ensure_topics(
    bootstrap: str,
    names: list[str] | dict[str, dict[str, str]],
    partitions: int = 3,
    replication: int = 1,
) -> list[str]:
    """Creates the topics that do not exist yet (a dict gives each its configs); returns the
    names it created."""
    configs = names if isinstance(names, dict) else {n: {} for n in names}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="newswire-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [n for n in configs if n not in existing]
        if missing:
            # Another process may create them between list and create.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [
                        NewTopic(
                            n,
                            num_partitions=partitions,
                            replication_factor=replication,
                            topic_configs=configs[n],
                        )
                        for n in missing
                    ]
                )
        return missing
    finally:
        await admin.close()


async def ensure_newswire_topics(
    bootstrap: str, prefix: str = "", partitions: int = 3
) -> list[str]:
    """Every newswire topic under ``prefix``, with its configs (compaction for state)."""
    return await ensure_topics(bootstrap, topic_configs(prefix), partitions)


async def delete_prefixed_topics(bootstrap: str, prefix: str) -> list[str]:
    """Deletes every topic whose name starts with ``prefix`` (a test's or a demo's); returns
    their names. A broker that cannot be reached leaves them, and that is not an error."""
    if not prefix:
        raise ValueError("refusing to delete every topic: the prefix is empty")
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="newswire-admin")
    try:
        await admin.start()
        names = [n for n in await admin.list_topics() if n.startswith(prefix)]
        if names:
            await admin.delete_topics(names)
        return names
    except KafkaError:
        return []
    finally:
        await admin.close()


async def topic_partitions(
    consumer: AIOKafkaConsumer, topic: str, wait: float = 5.0
) -> list[TopicPartition]:
    """Every partition of ``topic``; ValueError if it does not exist.

    partitions_for_topic reads the client's cached metadata, which knows only the topics it
    was asked about, so the metadata is refreshed first (aiokafka has no public call for it).
    A topic created a moment ago may not be in the broker's metadata yet: asked again for up
    to ``wait`` seconds before giving up.
    """
    deadline = asyncio.get_running_loop().time() + wait
    while True:
        await consumer._client.force_metadata_update()
        partitions = consumer.partitions_for_topic(topic)
        if partitions:
            return [TopicPartition(topic, p) for p in sorted(partitions)]
        if asyncio.get_running_loop().time() >= deadline:
            raise ValueError(f"topic {topic!r} does not exist (newswire topics ensure)")
        await asyncio.sleep(0.2)


async def assign_all(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    """Assigns every partition of ``topic`` to ``consumer`` (no group membership)."""
    tps = await topic_partitions(consumer, topic)
    consumer.assign(tps)
    return tps


async def broker_ready(bootstrap: str, timeout: float) -> bool:
    """True when the broker answers a metadata request within ``timeout`` seconds."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap,
        client_id="newswire-probe",
        request_timeout_ms=max(1000, int(timeout * 1000)),
    )
    try:
        await asyncio.wait_for(admin.start(), timeout)
        await asyncio.wait_for(admin.list_topics(), timeout)
        return True
    except (TimeoutError, KafkaError, OSError):
        return False
    finally:
        await admin.close()
