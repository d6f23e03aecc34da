"""deploy/local/kafka: start, status, stop and restart on the same data directory."""

import os
import subprocess
from pathlib import Path

import pytest

from services.runtime.io import read_topic
from services.runtime.kafka import ensure_topics
from services.runtime.local import KAFKA_SCRIPT, start_broker

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _script(command: str, state: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KAFKA_STATE_DIR": str(state)}
    return subprocess.run([str(KAFKA_SCRIPT), command], env=env, capture_output=True, text=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_lifecycle_keeps_port_and_data(tmp_path: Path) -> None:
    from aiokafka import AIOKafkaProducer

    state = tmp_path / "kafka"
    assert _script("status", state).returncode == 3
    broker = start_broker(state)
    try:
        status = _script("status", state)
        assert status.returncode == 0
        assert f"bootstrap={broker.bootstrap}" in status.stdout
        pid = int((state / "broker.pid").read_text())
        created = await ensure_topics(broker.bootstrap, ["lifecycle"], partitions=1)
        assert created == ["lifecycle"]
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
        await producer.start()
        await producer.send_and_wait("lifecycle", b"before-restart")
        await producer.stop()

        assert _script("stop", state).returncode == 0
        assert _script("status", state).returncode == 3
        assert not _alive(pid)
        assert _script("stop", state).returncode == 0  # stopping twice is fine

        before = broker.bootstrap
        broker.start()
        assert broker.bootstrap == before
        values = [r.value async for r in read_topic(broker.bootstrap, "lifecycle", idle_timeout=3)]
        assert values == [b"before-restart"]
    finally:
        broker.stop()
    assert _script("status", state).returncode == 3


def test_stale_pid_file_is_not_trusted(tmp_path: Path) -> None:
    """A pid file naming somebody else's process (here: this test) must not be killed."""
    state = tmp_path / "kafka"
    state.mkdir()
    (state / "broker.pid").write_text(str(os.getpid()))
    assert _script("status", state).returncode == 3
    assert _script("stop", state).returncode == 0
