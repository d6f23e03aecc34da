"""The `newswire` command as a user runs it: produce, tail and the whole demo."""

import json
import os
import subprocess
import sys

import pytest

from services.demo import SAMPLES, sample_files
from services.runtime.kafka import ensure_newswire_topics
from tests.conftest import new_prefix
from tests.e2e.conftest import Spawn
from tests.helpers import SEED_PATH
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e


def newswire(
    *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


async def test_produce_then_tail(kafka_bootstrap: str) -> None:
    prefix = new_prefix()
    await ensure_newswire_topics(kafka_bootstrap, prefix, partitions=1)
    env = {"NEWSWIRE_KAFKA__BOOTSTRAP": kafka_bootstrap, "NEWSWIRE_TOPIC_PREFIX": prefix}
    produced = newswire(
        "produce", str(SEED_PATH), "--source", "express", "--url", "https://example.com/a", env=env
    )
    assert produced.returncode == 0, produced.stderr
    assert json.loads(produced.stdout)["offset"] == 0

    tailed = newswire("tail", "news.raw", "--max", "1", "--idle", "10", env=env)
    assert tailed.returncode == 0, tailed.stderr
    record = json.loads(tailed.stdout)
    assert record["key"] == "https://example.com/a"
    assert record["value"]["source"] == "express"
    assert record["value"]["payload"] == SEED_PATH.read_text()
    # Each produced file starts a trace, printed so the article can be followed by it.
    assert record["headers"]["traceparent"].split("-")[1] == json.loads(produced.stdout)["trace_id"]


async def test_produce_continues_a_given_traceparent(kafka_bootstrap: str) -> None:
    prefix = new_prefix()
    await ensure_newswire_topics(kafka_bootstrap, prefix, partitions=1)
    env = {"NEWSWIRE_KAFKA__BOOTSTRAP": kafka_bootstrap, "NEWSWIRE_TOPIC_PREFIX": prefix}
    upstream = "00-0af7651916cd43d5f9d1b7cb2f54ca77-00f067aa0ba902b7-01"
    refused = newswire("produce", str(SEED_PATH), "--traceparent", "00-nonsense", env=env)
    assert refused.returncode == 2
    assert "not a valid W3C traceparent" in refused.stderr
    produced = newswire("produce", str(SEED_PATH), "--traceparent", upstream, env=env)
    assert produced.returncode == 0, produced.stderr
    assert json.loads(produced.stdout)["trace_id"] == "0af7651916cd43d5f9d1b7cb2f54ca77"
    tailed = newswire("tail", "news.raw", "--max", "1", "--idle", "10", env=env)
    sent = json.loads(tailed.stdout)["headers"]["traceparent"]
    assert sent.startswith("00-0af7651916cd43d5f9d1b7cb2f54ca77-")
    assert sent != upstream  # a child span of the upstream one


def test_demo_prints_exactly_one_alert(kafka_bootstrap: str) -> None:
    done = newswire("demo", "--timeout", "90", env={"NEWSWIRE_KAFKA__BOOTSTRAP": kafka_bootstrap})
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert out.count("ALERT  [Ukraine security guarantees]") == 1
    assert "Starmer meets Trump in critical talks over Ukraine security guarantees" in out
    n = len(sample_files())
    assert f"summary: {n} raw → {n - 1} articles, 1 dead-lettered, 1 alert(s)" in out
    assert "reason unparseable_payload" in out
    assert "workers stopped (exit codes [0, 0, 0])" in out


async def test_dlq_list_and_dry_run_replay(
    kafka_bootstrap: str, topic_prefix: str, spawn: Spawn
) -> None:
    ingest = spawn("ingest")
    await ingest.wait_ready()
    env = {"NEWSWIRE_KAFKA__BOOTSTRAP": kafka_bootstrap, "NEWSWIRE_TOPIC_PREFIX": topic_prefix}
    broken = SAMPLES / "not-an-article.txt"
    assert newswire("produce", str(broken), env=env).returncode == 0

    listed: list[dict[str, object]] = []

    async def dead_lettered() -> bool:
        done = newswire("dlq", "list", "--idle", "1", env=env)
        listed[:] = [json.loads(line) for line in done.stdout.splitlines()]
        return len(listed) == 1

    await wait_until(dead_lettered, 30, "the broken payload in news.raw.dlq")
    [row] = listed
    assert row["reason"] == "unparseable_payload"
    assert row["stage"] == "ingest"
    assert row["original"] == {
        "topic": topic_prefix + "news.raw",
        "partition": row["original"]["partition"],
        "offset": 0,
    }  # type: ignore[index]
    assert "broken scraper" in str(row["preview"])

    none = newswire("dlq", "list", "--reason", "unsafe_xml", "--idle", "1", env=env)
    assert none.stdout == ""
    dry = json.loads(newswire("dlq", "replay", "--dry-run", env=env).stdout)
    assert dry == {
        "replayed": 1,
        "skipped": 0,
        "targets": {topic_prefix + "news.raw": 1},
        "dry_run": True,
    }
