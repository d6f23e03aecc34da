"""Every metric a worker exports, in one container with an injected registry.

Names follow ``newswire_<noun>_<unit>``; labels are small and fixed (service, topic, outcome,
reason). Tests pass a fresh ``CollectorRegistry`` so no two workers share state.
"""

from collections.abc import Iterator, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from services.runtime.table import ChangelogTable

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_BATCH_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000)
# Webhook requests: receivers get up to the request timeout (15 s by default).
_REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Alert written -> receiver's 2xx: milliseconds when all is well, hours through retries.
_DELIVERY_BUCKETS = (
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
    1800.0,
    3600.0,
    21600.0,
    86400.0,
)


class WorkerMetrics:
    def __init__(self, service: str, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.service = service
        r = self.registry
        # Records read from the source topic, by outcome: ok | dropped | dead_letter.
        self.records_consumed = Counter(
            "newswire_records_consumed",
            "Records read from the source topic, by outcome.",
            ["service", "topic", "outcome"],
            registry=r,
        )
        # Records the broker acknowledged on each output topic (dead-letter topics included).
        self.records_produced = Counter(
            "newswire_records_produced",
            "Records acknowledged by the broker, by topic.",
            ["service", "topic"],
            registry=r,
        )
        self.dead_letters = Counter(
            "newswire_dead_letters",
            "Records sent to a dead-letter topic, by reason.",
            ["service", "reason"],
            registry=r,
        )
        # Outputs a step chose not to produce, by reason (e.g. duplicate_url, duplicate_content).
        self.dropped = Counter(
            "newswire_records_dropped",
            "Outputs deliberately not produced, by reason.",
            ["service", "reason"],
            registry=r,
        )
        self.processing_seconds = Histogram(
            "newswire_processing_seconds",
            "Time to decode, process and encode one record.",
            ["service"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_records = Histogram(
            "newswire_batch_records",
            "Records per consumed batch.",
            ["service"],
            buckets=_BATCH_BUCKETS,
            registry=r,
        )
        self.commits = Counter(
            "newswire_offset_commits",
            "Offset commits, by outcome.",
            ["service", "outcome"],
            registry=r,
        )
        # The worker dropped its Kafka clients after broker trouble and built new ones (app.py).
        self.rebuilds = Counter(
            "newswire_worker_rebuilds",
            "Client rebuilds after broker trouble, by the error that caused them.",
            ["service", "error"],
            registry=r,
        )
        self.assigned_partitions = Gauge(
            "newswire_assigned_partitions",
            "Source partitions assigned to this worker.",
            ["service"],
            registry=r,
        )
        # Processed batches whose outputs the broker has not acknowledged yet (loop.py).
        self.in_flight_batches = Gauge(
            "newswire_in_flight_batches",
            "Processed batches waiting for the broker's acknowledgements.",
            ["service"],
            registry=r,
        )
        # End offset minus position, per assigned partition (services/runtime/lag.py).
        self.consumer_lag = Gauge(
            "newswire_consumer_lag_records",
            "Records between the consumer's position and the end of the partition.",
            ["service", "topic", "partition"],
            registry=r,
        )
        self.last_loop_timestamp = Gauge(
            "newswire_loop_last_turn_timestamp_seconds",
            "Unix time of the last turn of the consume loop.",
            ["service"],
            registry=r,
        )
        # Records handed to a dispatcher (webhook delivery) and not finished yet.
        self.pending_records = Gauge(
            "newswire_pending_records",
            "Records read and not yet finished (delivered or dead-lettered).",
            ["service"],
            registry=r,
        )
        # Per alert, its final outcome: delivered | dead_letter | gone | disabled | no_webhook
        # | already_done (read again after a restart, finished before it).
        self.webhook_deliveries = Counter(
            "newswire_webhook_deliveries",
            "Alerts finished by the webhook worker, by outcome.",
            ["service", "outcome"],
            registry=r,
        )
        # Per HTTP attempt: 2xx | 3xx | 4xx | 5xx | error (timeout, reset) | refused (SSRF guard).
        self.webhook_attempts = Counter(
            "newswire_webhook_attempts",
            "Webhook HTTP attempts, by result class.",
            ["service", "result"],
            registry=r,
        )
        self.webhook_request_seconds = Histogram(
            "newswire_webhook_request_seconds",
            "Time from sending a webhook request to its response (or failure).",
            ["service"],
            buckets=_REQUEST_BUCKETS,
            registry=r,
        )
        self.webhook_delivery_seconds = Histogram(
            "newswire_webhook_delivery_seconds",
            "From the alert's broker timestamp to the receiver's 2xx, retries included.",
            ["service"],
            buckets=_DELIVERY_BUCKETS,
            registry=r,
        )
        self.webhook_digests = Counter(
            "newswire_webhook_digests",
            "Digest webhooks first sent (several rate-limited alerts in one request).",
            ["service"],
            registry=r,
        )
        self.webhook_endpoints_disabled = Counter(
            "newswire_webhook_endpoints_disabled",
            "Endpoints disabled because the receiver answered 410 Gone.",
            ["service"],
            registry=r,
        )


class TableCollector(Collector):
    """A worker's state tables, read at scrape time: rows in each local copy, and rows dropped
    from it (expired, or over its ``max_rows`` cap: those a cap made a worker forget)."""

    def __init__(self, service: str, tables: Sequence[ChangelogTable[object]]) -> None:
        self.service = service
        self.tables = tables

    def collect(self) -> Iterator[Metric]:
        rows = GaugeMetricFamily(
            "newswire_table_rows",
            "Rows in a state table's local copy.",
            labels=["service", "table"],
        )
        dropped = CounterMetricFamily(
            "newswire_table_rows_dropped",
            "Rows dropped from a table's local copy (they stay in its changelog), by reason: "
            "expired | over_cap.",
            labels=["service", "table", "reason"],
        )
        for table in self.tables:
            rows.add_metric([self.service, table.topic], len(table))
            for reason, count in table.dropped.items():
                dropped.add_metric([self.service, table.topic, reason], count)
        yield rows
        yield dropped
