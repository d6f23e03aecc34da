"""Runtime pieces that need no broker: commit bookkeeping, DLQ headers, settings, health."""

import asyncio
import time
from datetime import UTC, datetime

import aiohttp
import pytest
from aiokafka import TopicPartition
from prometheus_client import CollectorRegistry
from pydantic import BaseModel

from schemas import topics
from schemas.article import Article
from schemas.raw import RawArticleEvent
from services.runtime import dlq
from services.runtime.commit import CommitPolicy, PendingOffsets
from services.runtime.errors import InvalidMessage
from services.runtime.health import Health, health_app, start_http
from services.runtime.lag import partition_lags
from services.runtime.settings import RuntimeSettings
from services.runtime.worker import InputRecord, StepContext, Worker, process_record


class TestPendingOffsets:
    """Offsets become committable only once acknowledged, never move back, and obey the policy."""

    def make(self, every: int = 3, seconds: float = 10.0) -> PendingOffsets:
        return PendingOffsets(CommitPolicy(every, seconds), last_commit_at=0.0)

    def test_nothing_due_when_nothing_acknowledged(self) -> None:
        assert not self.make().due(now=1e9)

    def test_due_after_n_messages(self) -> None:
        p = self.make(every=3)
        p.acknowledge("t", 0, 2, count=2)
        assert not p.due(now=1.0)
        p.acknowledge("t", 0, 3, count=1)
        assert p.due(now=1.0)

    def test_due_after_interval(self) -> None:
        p = self.make(every=1000, seconds=5.0)
        p.acknowledge("t", 0, 1, count=1)
        assert not p.due(now=4.9)
        assert p.due(now=5.0)

    def test_offsets_never_move_backwards(self) -> None:
        p = self.make()
        p.acknowledge("t", 0, 10, count=1)
        p.acknowledge("t", 0, 7, count=1)
        assert p.take(now=1.0) == {("t", 0): 10}

    def test_take_only_owned_partitions_and_reset(self) -> None:
        p = self.make()
        p.acknowledge("t", 0, 5, count=1)
        p.acknowledge("t", 1, 9, count=1)
        assert p.take(now=2.0, owned={("t", 1)}) == {("t", 1): 9}
        assert p.take(now=3.0) == {}
        assert p.since_commit == 0

    def test_forget_revoked(self) -> None:
        p = self.make()
        p.acknowledge("t", 0, 5, count=1)
        p.forget({("t", 0)})
        assert p.take(now=1.0) == {}


class TestDeadLetterHeaders:
    def test_replaces_old_error_headers_and_keeps_others(self) -> None:
        where = dlq.SourcePosition("news.raw", 1, 7, 123)
        first = dlq.dead_letter_headers([("a", b"1")], InvalidMessage("r1", "d1"), "ingest", where)
        second = dlq.dead_letter_headers(first, InvalidMessage("r2", "d2"), "ingest", where)
        names = [k for k, _ in second]
        assert names.count(dlq.REASON) == 1
        h = dlq.header_map(second)
        assert h[dlq.REASON] == "r2"
        assert h[dlq.EXCEPTION_MESSAGE] == "d2"
        assert h[dlq.EXCEPTION_CLASS] == "InvalidMessage"
        assert h["a"] == "1"

    def test_long_messages_are_truncated(self) -> None:
        where = dlq.SourcePosition("t", 0, 0, 0)
        h = dlq.dead_letter_headers([], InvalidMessage("r", "x" * 10_000), "s", where)
        assert len(dlq.header_map(h)[dlq.EXCEPTION_MESSAGE]) == 2_000


class TestSettings:
    def test_reads_nested_env_with_prefix(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("NEWSWIRE_KAFKA__BOOTSTRAP", "127.0.0.1:19092")
        monkeypatch.setenv("NEWSWIRE_KAFKA__MAX_BATCH", "42")
        monkeypatch.setenv("NEWSWIRE_TOPIC_PREFIX", "t1.")
        s = RuntimeSettings()
        assert s.kafka.bootstrap == "127.0.0.1:19092"
        assert s.kafka.max_batch == 42
        assert s.topic("news.raw") == "t1.news.raw"
        assert s.group_for("ingest") == "t1.newswire-ingest"

    def test_rejects_out_of_range(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("NEWSWIRE_KAFKA__MAX_BATCH", "0")
        with pytest.raises(ValueError, match="max_batch"):
            RuntimeSettings()


def _raw_value() -> bytes:
    return (
        RawArticleEvent(source="s", fetched_at=datetime(2025, 1, 1, tzinfo=UTC), payload="x")
        .model_dump_json()
        .encode()
    )


class TestProcessRecord:
    """Bugs in a step are not swallowed into the DLQ; contract violations in output are."""

    async def test_unexpected_exception_propagates(self) -> None:
        async def broken(raw: RawArticleEvent, ctx: StepContext) -> Article:
            raise RuntimeError("bug")

        worker = Worker("ingest", topics.RAW, topics.ARTICLES, broken)
        value = _raw_value()
        with pytest.raises(RuntimeError, match="bug"):
            await process_record(worker, InputRecord("news.raw", 0, 0, 0, None, value, []))

    async def test_dropping_step(self) -> None:
        async def drop(raw: RawArticleEvent, ctx: StepContext) -> None:
            return None

        worker = Worker("ingest", topics.RAW, topics.ARTICLES, drop)
        value = _raw_value()
        result = await process_record(worker, InputRecord("news.raw", 0, 0, 0, None, value, []))
        assert result.outcome == "dropped"
        assert result.records == []

    def test_naive_timestamp_violates_the_contract(self) -> None:
        with pytest.raises(ValueError, match="timezone"):
            RawArticleEvent.model_validate_json(
                '{"source": "s", "fetched_at": "2025-01-01T00:00:00", "payload": "x"}'
            )


class TestHealthEndpoints:
    """/healthz follows the loop; /readyz needs start, group join and no shutdown."""

    async def test_states(self) -> None:
        health = Health(stall_after=0.3)
        runner, port = await start_http(
            health_app(health, CollectorRegistry(), "t"), "127.0.0.1", 0
        )
        try:
            async with aiohttp.ClientSession() as http:

                async def status(path: str) -> int:
                    async with http.get(f"http://127.0.0.1:{port}{path}") as r:
                        return r.status

                assert await status("/healthz") == 200
                assert await status("/readyz") == 503  # not started
                health.started = True
                health.joined(3)
                health.loop_turned()
                assert await status("/readyz") == 200
                await asyncio.sleep(0.35)  # the loop stops turning
                assert await status("/healthz") == 503
                assert await status("/readyz") == 503
                health.loop_turned()
                assert await status("/healthz") == 200
                health.stopping = True
                assert await status("/readyz") == 503
                assert await status("/metrics") == 200
        finally:
            await runner.cleanup()

    def test_live_detail_reports_age(self) -> None:
        health = Health(stall_after=5.0, started=True, last_turn=time.monotonic() - 1.0)
        ok, detail = health.live()
        assert ok
        assert isinstance(detail["loop_age_seconds"], float)
        assert detail["loop_age_seconds"] >= 1.0


class TestLogging:
    """Every line a worker writes is JSON, stdlib loggers' (aiokafka's) included."""

    def test_stdlib_records_are_json_with_context(self, capsys: pytest.CaptureFixture[str]) -> None:
        import json
        import logging

        import structlog

        from services.runtime.logging import configure_logging

        root = logging.getLogger()
        saved = (list(root.handlers), root.level)
        configure_logging("info", "json", service="ingest")
        try:
            structlog.contextvars.bind_contextvars(article_id="a" * 32)
            logging.getLogger("aiokafka.consumer").warning("Group Coordinator Request failed")
            logging.getLogger("aiokafka.consumer").info("chatter")
            structlog.get_logger("newswire").info("article_parsed")
        finally:
            structlog.contextvars.clear_contextvars()
            structlog.reset_defaults()
            root.handlers, root.level = saved[0], saved[1]
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
        assert [line["event"] for line in lines] == [
            "Group Coordinator Request failed",
            "article_parsed",
        ]
        assert lines[0]["logger"] == "aiokafka.consumer"
        assert lines[0]["level"] == "warning"
        assert all(line["service"] == "ingest" for line in lines)
        assert all(line["article_id"] == "a" * 32 for line in lines)


class TestReadiness:
    """/readyz: broker answering, and no stall while records wait."""

    def ready_health(self) -> Health:
        h = Health(stall_after=30)
        h.started = True
        h.joined(3)
        return h

    def test_ready_when_started_joined_and_the_broker_answers(self) -> None:
        h = self.ready_health()
        h.broker_answered(lag=0)
        assert h.ready()[0]

    def test_not_ready_while_the_broker_does_not_answer(self) -> None:
        h = self.ready_health()
        h.broker_unreachable("KafkaConnectionError()")
        ok, detail = h.ready()
        assert not ok
        assert detail["broker_error"] == "KafkaConnectionError()"
        h.broker_answered(lag=0)
        assert h.ready()[0]

    def test_not_ready_when_records_wait_and_nothing_was_processed(self) -> None:
        h = self.ready_health()
        h.broker_answered(lag=12)
        assert h.ready()[0]  # lag, but progress is recent
        h.last_progress = time.monotonic() - 31
        ok, detail = h.ready()
        assert not ok
        assert detail["stalled_with_lag"] is True
        h.broker_answered(lag=0)
        assert h.ready()[0]  # idle without lag is fine: nothing to do

    def test_partition_lags_are_never_negative(self) -> None:
        a, b = TopicPartition("t", 0), TopicPartition("t", 1)
        assert partition_lags({a: 10, b: 5}, {a: 4, b: 7}) == {a: 6, b: 0}
        assert partition_lags({a: 10}, {}) == {}


async def test_a_broker_call_past_its_bound_is_broker_trouble() -> None:
    from aiokafka.errors import KafkaConnectionError, ProducerFenced

    from services.runtime.errors import BrokerCallTimeout, is_broker_trouble
    from services.runtime.kafka import bounded

    never = asyncio.get_running_loop().create_future()
    started = time.monotonic()
    with pytest.raises(BrokerCallTimeout, match=r"commit: no answer from the broker in 0\.05 s"):
        await bounded(never, 0.05, "commit")
    assert time.monotonic() - started < 1.0
    assert await bounded(asyncio.sleep(0, result=7), 1.0, "quick") == 7
    # What a rebuild gets past, and what must stop the worker (a bug).
    assert is_broker_trouble(BrokerCallTimeout("x"))
    assert is_broker_trouble(ProducerFenced())
    assert is_broker_trouble(KafkaConnectionError("down"))
    assert not is_broker_trouble(RuntimeError("a bug"))
    assert not is_broker_trouble(InvalidMessage("bad", "data"))
    assert not is_broker_trouble(TimeoutError("a step's own timeout is not the broker's"))


async def test_a_cancellation_that_meets_the_acknowledgement_is_not_lost() -> None:
    """The worker is stopping (its lane task cancelled) just as the broker's answer arrives.
    Python 3.11's wait_for returned the answer and dropped the cancellation (CPython
    gh-86296), so a webhook lane went on retrying after its partition was abandoned."""
    from services.runtime.kafka import bounded

    acknowledgement = asyncio.get_running_loop().create_future()
    call = asyncio.create_task(bounded(acknowledgement, 5.0, "acknowledgement"))
    await asyncio.sleep(0)  # the call waits on the broker
    acknowledgement.set_result("acked")
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call


def test_the_transactional_id_of_a_partition_is_shared_by_its_owners() -> None:
    from services.runtime.transactions import transactional_id

    tp = TopicPartition("p.news.raw", 2)
    assert transactional_id("p.newswire-ingest", tp) == "p.newswire-ingest.p.news.raw.2"
    assert transactional_id("g", tp) != transactional_id("g", TopicPartition("p.news.raw", 1))


def test_exactly_once_is_a_setting_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert RuntimeSettings().processing_guarantee == "at_least_once"
    monkeypatch.setenv("NEWSWIRE_PROCESSING_GUARANTEE", "exactly_once")
    assert RuntimeSettings().processing_guarantee == "exactly_once"
    monkeypatch.setenv("NEWSWIRE_PROCESSING_GUARANTEE", "at_most_once")
    with pytest.raises(ValueError, match="at_least_once"):
        RuntimeSettings()


def test_repeated_library_log_lines_are_held_back_and_counted() -> None:
    import logging

    from services.runtime.logging import RepeatFilter

    repeat = RepeatFilter(window_seconds=10.0)

    def record(msg: str, at: float) -> logging.LogRecord:
        r = logging.LogRecord("aiokafka", logging.ERROR, __file__, 1, msg, None, None)
        r.created = at
        return r

    passed = [repeat.filter(record("Unable connect to node %s", t / 10)) for t in range(50)]
    assert passed == [True] + [False] * 49
    assert repeat.filter(record("something else", 1.0))
    later = record("Unable connect to node %s", 12.0)
    assert repeat.filter(later)
    assert "49 like it in the last 10 s held back" in later.getMessage().replace("%s", "x")


def test_a_record_read_can_always_be_dead_lettered() -> None:
    from services.runtime.settings import DEAD_LETTER_HEADROOM, KafkaSettings

    default = RuntimeSettings()
    assert default.kafka.max_request_bytes >= default.max_record_bytes + DEAD_LETTER_HEADROOM
    with pytest.raises(ValueError, match="dead letter of the largest record"):
        RuntimeSettings(kafka=KafkaSettings(max_request_bytes=4 * 1024 * 1024))


def test_output_partitions_are_the_ones_aiokafka_send_picks() -> None:
    # Dedup and story state rely on a key landing where any producer would put it.
    import random

    from aiokafka.partitioner import DefaultPartitioner, murmur2

    from services.runtime.produce import murmur2 as fast_murmur2
    from services.runtime.produce import partition_for

    rng = random.Random(5)
    keys = [rng.randbytes(rng.randrange(0, 80)) for _ in range(3000)]
    keys += [b"", b"a", b"ab", b"abc", b"\xff\xff\xff\xff\xff", "καλημέρα".encode()]
    assert [fast_murmur2(k) for k in keys] == [murmur2(k) for k in keys]
    partitions = list(range(6))
    reference = DefaultPartitioner()
    assert [partition_for(k, partitions) for k in keys] == [
        reference(k, partitions, partitions) for k in keys
    ]
    assert partition_for(None, partitions) in partitions


def test_the_log_context_names_the_article_of_any_model() -> None:
    from services.ingest.normalize import single_article
    from services.runtime.worker import article_id_of
    from tests.helpers import generated_article, raw_event

    raw = raw_event(generated_article(1))
    assert article_id_of(raw) is None
    article = single_article(raw)
    assert article_id_of(article) == article.article_id

    class Carrier(BaseModel):  # a stage's model nesting its article, as EnrichedArticle does
        article: Article

    assert article_id_of(Carrier(article=article)) == article.article_id
