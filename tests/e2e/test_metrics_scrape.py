"""Real worker processes on the real broker, after real traffic: each one's /metrics passes
``promtool check metrics``, and the dashboard and alert rules name only series these
scrapes contain (or that docs/operations.md lists as not yet exported)."""

import shutil
from pathlib import Path

import pytest

from services.demo import sample_files
from services.runtime.io import produce_raw, raw_event_from_file
from services.runtime.settings import KafkaSettings
from tests.e2e.conftest import Spawn
from tests.ops_metrics import (
    dashboard_expressions,
    exposed_names,
    promtool_check_metrics,
    rule_expressions,
    unknown_names,
)
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def test_real_scrapes_lint_clean_and_cover_the_dashboard(
    kafka_bootstrap: str, topic_prefix: str, spawn: Spawn
) -> None:
    if shutil.which("promtool") is None:
        pytest.skip(
            "promtool not found: run scripts/system-deps as root (apt-get install prometheus)"
        )
    workers = [spawn("ingest"), spawn("enrich"), spawn("notify")]
    for w in workers:
        await w.wait_ready()

    files = sample_files()  # five articles (one matches a subscription) and a broken payload
    events = [raw_event_from_file(f, source="e2e-metrics") for f in files]
    await produce_raw(KafkaSettings(bootstrap=kafka_bootstrap), topic_prefix + "news.raw", events)
    notify = workers[-1]

    async def notify_saw_everything() -> bool:
        return await notify.metric("newswire_records_consumed_total") >= len(files) - 1

    await wait_until(notify_saw_everything, 60, "notify to consume every enriched article")

    exported: set[str] = set()
    for w in workers:
        status, text = await w.get("/metrics")
        assert status == 200
        assert "newswire_records_consumed_total{" in text
        done = promtool_check_metrics(text)
        assert done.returncode == 0, f"{w.service}: {done.stdout}{done.stderr}"
        assert done.stdout.strip() == done.stderr.strip() == "", f"{w.service}: {done.stdout}"
        exported |= exposed_names(text)
        assert w.process is not None
        print(f"{w.service}: RSS {rss_mib(w.process.pid):.0f} MiB after the sample run")

    # Traffic made the per-label series real: the dead letter, produced alerts, histograms.
    assert {
        "newswire_dead_letters_total",
        "newswire_records_produced_total",
        "newswire_processing_seconds_bucket",
    } <= exported
    assert unknown_names(dashboard_expressions(), exported) == []
    assert unknown_names(rule_expressions(), exported) == []
    assert [w.stop() for w in workers] == [0, 0, 0]
