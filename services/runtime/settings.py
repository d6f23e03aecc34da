"""Runtime settings, read once from the environment (prefix ``NEWSWIRE_``, nesting ``__``).

Only ``services/cli.py`` builds settings; everything below takes them as an argument.
Example: ``NEWSWIRE_KAFKA__BOOTSTRAP=127.0.0.1:9092 NEWSWIRE_HTTP__PORT=9101 newswire ingest``.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Reason headers (exception message capped) and the original headers of a dead letter.
DEAD_LETTER_HEADROOM = 64 * 1024


class KafkaSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    bootstrap: str = Field(default="127.0.0.1:9092", description="host:port[,host:port...]")
    client_id: str = "newswire"
    # A worker that dies is noticed by the group after this long; 10 s (Kafka's default is 45 s)
    # keeps failover quick for a pipeline whose steps take milliseconds.
    session_timeout_ms: int = Field(default=10_000, ge=1_000)
    # Static group membership (KIP-345): a worker that stops and comes back within
    # session_timeout_ms under the same id gets its partitions back without a rebalance of the
    # group (a crashed container restarted in its pod, say). Unique per worker process; two
    # processes with one id fence each other. Unset: dynamic membership, where a stopping
    # worker leaves the group at once (the better choice when restarts bring new names, as a
    # Deployment's rolling update does: a static member's partitions wait out the timeout).
    group_instance_id: str | None = Field(default=None, min_length=1, max_length=249)
    heartbeat_interval_ms: int = Field(default=3_000, ge=100)
    request_timeout_ms: int = Field(default=30_000, ge=1_000)
    # Batching knobs: getmany returns at most max_batch records; the producer waits up to
    # linger_ms to fill a batch. 5 ms costs little latency and saves many small requests.
    max_batch: int = Field(default=500, ge=1, le=10_000)
    poll_timeout_ms: int = Field(default=200, ge=10)
    linger_ms: int = Field(default=5, ge=0)
    # Room for the largest record read (max_record_bytes, 4 MiB) plus the headers its dead
    # letter adds: a dead letter the producer refuses would stop the worker on that record.
    max_request_bytes: int = Field(default=4 * 1024 * 1024 + DEAD_LETTER_HEADROOM, ge=1024)
    # One producer record batch per topic-partition holds up to this much (a larger record
    # goes alone). aiokafka's 16 KiB holds 3-5 articles; 256 KiB means far fewer produce
    # requests, and stays under the broker's 1 MiB default message.max.bytes.
    max_batch_bytes: int = Field(default=256 * 1024, ge=1024, le=1024 * 1024)
    # Processed batches whose acks may be outstanding while the next is processed; past this
    # the loop waits for the oldest (backpressure). 1 means no overlap.
    max_in_flight_batches: int = Field(default=4, ge=1, le=64)
    # No broker call is awaited longer than this (a commit, a transaction's begin/commit, an
    # acknowledgement, a client start or stop): aiokafka's idempotent producer can wait forever
    # for a broker that is down. Past it the worker rebuilds its clients (app.py).
    call_timeout_seconds: float = Field(default=30.0, gt=0)
    # exactly_once: the broker aborts a transaction left open this long by a dead worker.
    transaction_timeout_ms: int = Field(default=60_000, ge=1_000)


class HttpSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535, description="0 picks a free port")


class CommitSettings(BaseModel):
    """When acknowledged offsets are committed: every N messages or T seconds, whichever first."""

    model_config = ConfigDict(frozen=True)

    every_messages: int = Field(default=1_000, ge=1)
    every_seconds: float = Field(default=1.0, gt=0)


ProcessingGuarantee = Literal["at_least_once", "exactly_once"]


class RuntimeSettings(BaseSettings):
    """Settings every worker shares. Services subclass it for their own knobs."""

    model_config = SettingsConfigDict(
        env_prefix="NEWSWIRE_", env_nested_delimiter="__", frozen=True, extra="ignore"
    )

    kafka: KafkaSettings = KafkaSettings()
    http: HttpSettings = HttpSettings()
    commit: CommitSettings = CommitSettings()
    topic_prefix: str = Field(
        default="", description="Prepended to every topic name; tests isolate themselves with it."
    )
    group_id: str | None = Field(default=None, description="Consumer group; newswire-<service>.")
    # at_least_once: outputs acknowledged, then offsets committed; a crash between the two
    # re-reads and re-sends (ids make repeats harmless downstream). exactly_once: each input
    # partition's outputs, state writes and offsets in one Kafka transaction (docs/guarantees.md).
    processing_guarantee: ProcessingGuarantee = "at_least_once"
    # After a broker failure the worker rebuilds its clients, waiting this long at first and
    # doubling up to rebuild_backoff_max_seconds; it never exits for a broker outage.
    rebuild_backoff_seconds: float = Field(default=0.5, gt=0)
    rebuild_backoff_max_seconds: float = Field(default=10.0, gt=0)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["auto", "json", "console"] = "auto"
    # The workers' event loop. "uvloop" (libuv, installed on Linux and macOS) measured the same
    # CPU per event as asyncio's loop on the ingest worker (README, Dependencies), and the one
    # CI run with it as the default failed a broker-outage recovery test that passed 7 times
    # locally: until it shows a gain, the standard loop is the default.
    event_loop: Literal["uvloop", "asyncio"] = "asyncio"
    # Child processes that run the worker's pure, CPU-heavy prepare half (ingest: parse and
    # normalise; enrich: the analysis) on each batch, beside the loop's process
    # (services/runtime/parallel.py). 0: the loop's process runs it. Worth it only when cores
    # are free: on this 2-core machine one ingest worker with 2 went from 586-732 to
    # 985-1,264 events/s (bench/ingest.py, three runs), but the three-stage pipeline, whose
    # workers already share the two cores, got slower (docs/performance.md).
    step_processes: int = Field(default=0, ge=0, le=32)
    # Records larger than this go to the dead-letter topic unread (base64 payloads of 2 MiB
    # documents plus their envelope fit).
    max_record_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    # /healthz fails when the loop has not turned for this long (a hung step or a stuck await).
    stall_after_seconds: float = Field(default=30.0, gt=0)
    # How often consumer lag is measured (and the broker's answer checked, for /readyz).
    lag_probe_seconds: float = Field(default=5.0, gt=0)
    # How long SIGTERM waits for the in-flight batch to be acknowledged and committed.
    shutdown_timeout_seconds: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _dead_letters_fit(self) -> "RuntimeSettings":
        if self.kafka.max_request_bytes < self.max_record_bytes + DEAD_LETTER_HEADROOM:
            raise ValueError(
                f"kafka.max_request_bytes ({self.kafka.max_request_bytes}) must exceed "
                f"max_record_bytes ({self.max_record_bytes}) by {DEAD_LETTER_HEADROOM}: "
                "the dead letter of the largest record read must be producible"
            )
        return self

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    def group_for(self, service: str) -> str:
        return self.group_id or f"{self.topic_prefix}newswire-{service}"
