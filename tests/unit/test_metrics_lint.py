"""A worker's real /metrics endpoint, scraped over HTTP on 127.0.0.1, passes
``promtool check metrics``; and the dashboard and alert rules name only metrics that endpoint
exports (or that docs/operations.md lists as not yet exported).

The worker here is the in-process HTTP server (health_app) over a WorkerMetrics registry, with
one sample in every labelled family so each is exposed with its real series names; the e2e
test tests/e2e/test_metrics_scrape.py does the same against worker processes on the broker.
"""

import shutil

import aiohttp
import pytest
from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

from services.notify.step import NotifyMetrics
from services.runtime.health import Health, health_app, start_http
from services.runtime.metrics import TableCollector, WorkerMetrics
from services.runtime.table import ChangelogTable
from tests.ops_metrics import (
    dashboard_expressions,
    exposed_names,
    names_in_promql,
    pending_metrics,
    pending_names,
    promtool_check_metrics,
    rule_expressions,
    unknown_names,
)

# promtool findings on today's names that are accepted until the metric is renamed (with its
# proposed new name in docs/operations.md). Empty: every current name lints clean.
ACCEPTED_LINT_FINDINGS: set[str] = set()


def touch_every_family(metrics: object, service: str) -> None:
    """One sample per labelled metric, so the scrape shows _total/_bucket series, not only
    HELP/TYPE lines. Label values do not matter to the names."""
    for collector in vars(metrics).values():
        if not isinstance(collector, MetricWrapperBase):
            continue
        labels = {name: service for name in collector._labelnames}
        child = collector.labels(**labels)
        if isinstance(child, Counter):
            child.inc()
        elif isinstance(child, Histogram):
            child.observe(0.01)
        elif isinstance(child, Gauge):
            child.set(1)


async def scrape(service: str) -> str:
    """A worker's /metrics over HTTP; notify's includes its own metrics (NotifyMetrics)."""
    metrics = WorkerMetrics(service)
    touch_every_family(metrics, service)
    table: ChangelogTable[object] = ChangelogTable("news.t", encode=repr, decode=bytes.decode)
    table.put("k", "v")
    metrics.registry.register(TableCollector(service, [table]))
    if service == "notify":
        own = NotifyMetrics()
        touch_every_family(own, service)
        for collector in own.collectors():
            metrics.registry.register(collector)
    app = health_app(Health(stall_after=30), metrics.registry, service)
    runner, port = await start_http(app, "127.0.0.1", 0)
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{port}/metrics") as resp,
        ):
            assert resp.status == 200
            assert resp.headers["Content-Type"].startswith("text/plain")
            return await resp.text()
    finally:
        await runner.cleanup()


def needs_promtool() -> None:
    if shutil.which("promtool") is None:
        pytest.skip(
            "promtool not found: run scripts/system-deps as root (apt-get install prometheus)"
        )


async def test_scrape_passes_promtool_check_metrics() -> None:
    needs_promtool()
    text = await scrape("notify")
    assert "newswire_records_consumed_total{" in text
    assert "newswire_end_to_end_latency_seconds_bucket{" in text
    assert 'newswire_table_rows{service="notify",table="news.t"} 1.0' in text
    assert 'newswire_table_rows_dropped_total{reason="over_cap",service="notify"' in text
    done = promtool_check_metrics(text)
    findings = {line for line in (done.stdout + done.stderr).splitlines() if line.strip()}
    assert findings - ACCEPTED_LINT_FINDINGS == set(), findings
    # promtool exits 1 when it cannot parse the scrape and 3 when it found lint problems.
    assert done.returncode == (3 if findings else 0), done.stdout + done.stderr


async def test_promtool_flags_a_badly_named_counter() -> None:
    """The check above would catch a bad name: promtool reports this one."""
    needs_promtool()
    bad = "# HELP newswire_records counted\n# TYPE newswire_records counter\nnewswire_records 1\n"
    done = promtool_check_metrics(bad)
    assert done.returncode != 0
    assert '"_total" suffix' in done.stdout + done.stderr


async def test_dashboard_names_only_exported_or_listed_metrics() -> None:
    exported = exposed_names(await scrape("notify"))
    assert unknown_names(dashboard_expressions(), exported) == []


async def test_alert_rules_name_only_exported_or_listed_metrics() -> None:
    exported = exposed_names(await scrape("notify"))
    assert unknown_names(rule_expressions(), exported) == []


async def test_not_yet_exported_list_holds_no_exported_metric() -> None:
    """Once a listed metric is exported, its row must say so (or go)."""
    exported = exposed_names(await scrape("notify"))
    now_exported = sorted(name for name in pending_metrics() if name in exported)
    assert now_exported == [], (
        f"{now_exported} are exported now: mark their rows in docs/operations.md "
        '("Metrics the rules expect") as exported'
    )
    assert pending_names() & exported == set()
    assert all(kind in {"counter", "gauge", "histogram"} for kind in pending_metrics().values())


def test_names_in_promql_skips_labels_strings_and_grouping() -> None:
    expr = (
        'sum by (service, topic) (rate(newswire_records_consumed_total{topic=~"newswire_x",'
        ' outcome!="ok"}[5m])) / on (service) group_left up{job="newswire"}'
        " and newswire:consumer_lag_records:sum offset 5m"
    )
    assert names_in_promql(expr) == {
        "newswire_records_consumed_total",
        "up",
        "newswire:consumer_lag_records:sum",
    }


def test_exposed_names_expand_types() -> None:
    text = (
        "# TYPE newswire_a_total counter\n# TYPE newswire_b_seconds histogram\n"
        '# TYPE newswire_c gauge\nnewswire_c{service="x"} 1\n'
    )
    assert exposed_names(text) == {
        "newswire_a_total",
        "newswire_b_seconds",
        "newswire_b_seconds_bucket",
        "newswire_b_seconds_sum",
        "newswire_b_seconds_count",
        "newswire_c",
    }


def test_unknown_names_reports_a_metric_nobody_exports() -> None:
    exprs = iter([("panel", "sum(rate(newswire_nonexistent_total[5m])) / sum(up)")])
    assert unknown_names(exprs, {"newswire_records_consumed_total"}) == [
        "panel: newswire_nonexistent_total"
    ]


def test_pending_metrics_reads_only_rows_marked_not_yet_exported() -> None:
    markdown = (
        "## Metrics the rules expect\n\n| metric | type | labels | status | used by |\n"
        "| --- | --- | --- | --- | --- |\n"
        "| `newswire_a_total` | counter | service | exported | x |\n"
        "| `newswire_b_seconds` | histogram | service | not yet exported (proposed) | y |\n"
        "\n## Next\n| `newswire_c` | gauge | s | not yet exported | z |\n"
    )
    assert pending_metrics(markdown) == {"newswire_b_seconds": "histogram"}
    assert "newswire_b_seconds_bucket" in pending_names(markdown)
