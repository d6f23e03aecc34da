"""Fixtures shared by integration and e2e tests: the real local Kafka broker.

The broker is the one ``deploy/local/kafka`` starts, in a temporary state directory for this
test session, unless ``NEWSWIRE_TEST_BOOTSTRAP`` names a running one. Unit tests never ask
for it, so ``pytest`` (unit only) starts no broker.
"""

# hypothesis is imported here, at collection, on purpose: its pytest plugin otherwise imports
# it while printing the summary of a run that used none of it, and on CPython 3.11.7 that
# import (pytest rewrites its asserts, so it compiles) crashed the session twice with
# "SystemError: AST constructor recursion depth mismatch" once aiokafka had left garbage
# behind, although every test had passed.
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import hypothesis  # noqa: F401
import pytest

from services.runtime.kafka import delete_prefixed_topics, ensure_newswire_topics
from services.runtime.local import start_broker


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    given = os.environ.get("NEWSWIRE_TEST_BOOTSTRAP")
    if given:
        yield given
        return
    state = Path(tempfile.mkdtemp(prefix="newswire-test-kafka-"))
    broker = start_broker(state)
    try:
        yield broker.bootstrap
    finally:
        broker.stop()
        shutil.rmtree(state, ignore_errors=True)


def new_prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}."


@pytest.fixture
async def topic_prefix(kafka_bootstrap: str) -> AsyncIterator[str]:
    """A fresh prefix with all newswire topics created (3 partitions): no shared state.

    The prefix's topics are deleted afterwards: a long-lived shared broker otherwise gathers
    tens of thousands of partitions (a 512 MiB broker ran out of heap at ~16,000)."""
    prefix = new_prefix()
    await ensure_newswire_topics(kafka_bootstrap, prefix, partitions=3)
    yield prefix
    await delete_prefixed_topics(kafka_bootstrap, prefix)
