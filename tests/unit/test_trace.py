"""W3C traceparent values, and their propagation through process_record (no broker)."""

import re

import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st

from schemas import topics
from schemas.article import Article
from schemas.raw import RawArticleEvent
from services.ingest.settings import IngestSettings
from services.ingest.step import build_worker
from services.runtime import dlq, trace
from services.runtime.errors import InvalidMessage
from services.runtime.worker import InputRecord, OutRecord, StepContext, Worker, process_record
from tests.helpers import raw_event, seed_text

SPEC_EXAMPLE = "00-0af7651916cd43d5f9d1b7cb2f54ca77-00f067aa0ba902b7-01"
SPEC_TRACE_ID = "0af7651916cd43d5f9d1b7cb2f54ca77"
VALID = re.compile(r"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")


class TestParse:
    def test_the_specs_example(self) -> None:
        parsed = trace.parse(SPEC_EXAMPLE)
        assert parsed == trace.TraceParent(SPEC_TRACE_ID, "00f067aa0ba902b7", "01")
        assert parsed.header_value() == SPEC_EXAMPLE

    def test_bytes_as_in_a_kafka_header(self) -> None:
        assert trace.parse(SPEC_EXAMPLE.encode()) == trace.parse(SPEC_EXAMPLE)

    def test_flags_are_kept(self) -> None:
        unsampled = SPEC_EXAMPLE[:-2] + "00"
        parsed = trace.parse(unsampled)
        assert parsed is not None
        assert parsed.flags == "00"
        assert parsed.child().flags == "00"

    @pytest.mark.parametrize(
        "bad",
        [
            None,
            "",
            "garbage",
            SPEC_EXAMPLE.upper(),  # the spec allows lowercase hex only
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # zero trace id
            "00-0af7651916cd43d5f9d1b7cb2f54ca77-0000000000000000-01",  # zero parent id
            "ff-0af7651916cd43d5f9d1b7cb2f54ca77-00f067aa0ba902b7-01",  # forbidden version
            SPEC_EXAMPLE + "-extra",  # version 00 is exactly 55 characters
            SPEC_EXAMPLE[:-1],
            "00-0af7651916cd43d5f9d1b7cb2f54ca7-700f067aa0ba902b7-01",  # misplaced dash
            "00_0af7651916cd43d5f9d1b7cb2f54ca77_00f067aa0ba902b7_01",
            "0g-0af7651916cd43d5f9d1b7cb2f54ca77-00f067aa0ba902b7-01",
            " " + SPEC_EXAMPLE,
            b"\xff" * 55,
        ],
    )
    def test_invalid_values_are_none(self, bad: str | bytes | None) -> None:
        assert trace.parse(bad) is None

    def test_a_later_version_is_read_by_its_first_four_fields(self) -> None:
        later = "cc" + SPEC_EXAMPLE[2:] + "-what-the-future-adds"
        parsed = trace.parse(later)
        assert parsed is not None
        assert parsed.trace_id == SPEC_TRACE_ID
        assert parsed.header_value() == SPEC_EXAMPLE  # continued as version 00
        assert trace.parse("cc" + SPEC_EXAMPLE[2:] + "x") is None

    def test_only_the_first_fields_of_a_huge_value_are_read(self) -> None:
        tail = b"-" + b"\xff" * 1_000_000
        later = trace.parse(b"cc" + SPEC_EXAMPLE[2:].encode() + tail)
        assert later is not None
        assert later.trace_id == SPEC_TRACE_ID
        assert trace.parse(SPEC_EXAMPLE.encode() + tail) is None

    @given(st.one_of(st.text(max_size=80), st.binary(max_size=80)))
    def test_any_input_parses_or_is_none(self, value: str | bytes) -> None:
        parsed = trace.parse(value)
        if parsed is not None:
            assert VALID.fullmatch(parsed.header_value())

    @given(
        st.from_regex(r"\A[0-9a-f]{32}\Z"),
        st.from_regex(r"\A[0-9a-f]{16}\Z"),
        st.from_regex(r"\A[0-9a-f]{2}\Z"),
    )
    def test_round_trip_of_well_formed_values(self, trace_id: str, span: str, flags: str) -> None:
        value = f"00-{trace_id}-{span}-{flags}"
        parsed = trace.parse(value)
        if set(trace_id) == {"0"} or set(span) == {"0"}:
            assert parsed is None
        else:
            assert parsed is not None
            assert parsed.header_value() == value


class TestNewAndChild:
    def test_new_traces_are_valid_and_distinct(self) -> None:
        made = [trace.new_trace() for _ in range(50)]
        for t in made:
            assert VALID.fullmatch(t.header_value())
            assert trace.parse(t.header_value()) == t
        assert len({t.trace_id for t in made}) == 50

    def test_child_keeps_the_trace_and_changes_the_span(self) -> None:
        parent = trace.parse(SPEC_EXAMPLE)
        assert parent is not None
        child = parent.child()
        assert child.trace_id == SPEC_TRACE_ID
        assert child.span_id != parent.span_id
        assert trace.parse(child.header_value()) == child

    def test_continue_from_headers(self) -> None:
        header = [("other", b"x"), (trace.HEADER, SPEC_EXAMPLE.encode())]
        assert trace.continue_from(header).trace_id == SPEC_TRACE_ID
        fresh = trace.continue_from([(trace.HEADER, b"nonsense")])
        assert fresh.trace_id != SPEC_TRACE_ID
        assert VALID.fullmatch(fresh.header_value())
        assert trace.continue_from(None).trace_id != trace.continue_from(None).trace_id

    def test_with_traceparent_replaces_and_keeps_the_rest(self) -> None:
        span = trace.new_trace()
        headers = trace.with_traceparent([("a", b"1"), (trace.HEADER, b"old")], span)
        assert headers == [("a", b"1"), (trace.HEADER, span.header_value().encode())]


def _raw(headers: dlq.Headers, value: bytes | None = None) -> InputRecord:
    payload = value if value is not None else raw_event(seed_text()).model_dump_json().encode()
    return InputRecord("news.raw", 0, 7, 1_700_000_000_000, b"k", payload, headers)


def _trace_of(record: OutRecord) -> trace.TraceParent:
    found = trace.from_headers(record.headers)
    assert found is not None, f"no valid traceparent on {record.topic}: {record.headers}"
    return found


class TestProcessRecordPropagation:
    """Every output of a stage continues the input's trace, or starts one; the log context
    names it."""

    async def test_outputs_continue_the_inputs_trace(self) -> None:
        structlog.contextvars.clear_contextvars()
        result = await process_record(
            build_worker(IngestSettings()), _raw([(trace.HEADER, SPEC_EXAMPLE.encode())])
        )
        assert result.outcome == "ok"
        [article] = [r for r in result.records if r.topic == topics.ARTICLES.name]
        span = _trace_of(article)
        assert span.trace_id == SPEC_TRACE_ID
        assert span.span_id != "00f067aa0ba902b7"  # a child, not a copy
        assert structlog.contextvars.get_contextvars()["trace_id"] == SPEC_TRACE_ID
        assert Article.model_validate_json(article.value or b"").article_id

    @pytest.mark.parametrize("headers", [[], [(trace.HEADER, b"00-zz-not-valid")]])
    async def test_without_a_valid_trace_a_new_one_starts(self, headers: dlq.Headers) -> None:
        structlog.contextvars.clear_contextvars()
        result = await process_record(build_worker(IngestSettings()), _raw(headers))
        [article] = [r for r in result.records if r.topic == topics.ARTICLES.name]
        span = _trace_of(article)
        assert VALID.fullmatch(span.header_value())
        assert structlog.contextvars.get_contextvars()["trace_id"] == span.trace_id

    async def test_all_outputs_of_one_record_share_its_span_and_side_records_have_none(
        self,
    ) -> None:
        made = await process_record(build_worker(IngestSettings()), _raw([]))
        seed = Article.model_validate_json(made.records[0].value or b"")
        copies = [seed.model_copy(update={"article_id": f"{n:032x}"}) for n in (1, 2)]

        async def two(raw: RawArticleEvent, ctx: StepContext) -> list[Article]:
            ctx.emit(OutRecord("state.changelog", b"k", b"v"))
            return copies

        worker = Worker("ingest", topics.RAW, topics.ARTICLES, two)
        result = await process_record(worker, _raw([(trace.HEADER, SPEC_EXAMPLE.encode())]))
        first, second, side = result.records
        assert _trace_of(first) == _trace_of(second)
        assert _trace_of(first).trace_id == SPEC_TRACE_ID
        assert side.headers == []

    async def test_a_dead_letter_keeps_a_valid_original_trace_unchanged(self) -> None:
        structlog.contextvars.clear_contextvars()
        headers = [("x", b"1"), (trace.HEADER, SPEC_EXAMPLE.encode())]
        result = await process_record(build_worker(IngestSettings()), _raw(headers, b"{}"))
        [dead] = result.records
        assert result.outcome == "dead_letter"
        assert dlq.header_map(dead.headers)[trace.HEADER] == SPEC_EXAMPLE
        assert dlq.header_map(dead.headers)["x"] == "1"
        assert structlog.contextvars.get_contextvars()["trace_id"] == SPEC_TRACE_ID

    async def test_a_dead_letter_without_a_trace_gets_the_logged_one(self) -> None:
        structlog.contextvars.clear_contextvars()
        result = await process_record(build_worker(IngestSettings()), _raw([], b"{}"))
        [dead] = result.records
        logged = structlog.contextvars.get_contextvars()["trace_id"]
        assert _trace_of(dead).trace_id == logged
        assert dlq.header_map(dead.headers)[dlq.REASON] == "invalid_envelope"

    async def test_rejected_input_with_outputs_carries_the_trace_on_both(self) -> None:
        async def partial(raw: RawArticleEvent, ctx: StepContext) -> None:
            ctx.dead_letter(InvalidMessage("items_rejected", "one bad item"))

        worker = Worker("ingest", topics.RAW, topics.ARTICLES, partial)
        result = await process_record(worker, _raw([]))
        [dead] = result.records
        assert VALID.fullmatch(_trace_of(dead).header_value())


def test_tracestate_travels_with_a_valid_traceparent_only() -> None:
    parent = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    state = b"rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
    span = trace.continue_from([("traceparent", parent), ("tracestate", state)])
    assert span.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert span.state == state
    out = dict(trace.with_traceparent([("tracestate", b"stale")], span))
    assert out["tracestate"] == state
    assert out["traceparent"] != parent  # a child span
    # No valid traceparent: the state is dropped with it (W3C trace-context 3.3).
    fresh = trace.continue_from([("traceparent", b"garbage"), ("tracestate", state)])
    assert fresh.state is None
    assert "tracestate" not in dict(trace.with_traceparent([("tracestate", state)], fresh))
    # Longer than a receiver must accept: dropped, not cut.
    long = trace.continue_from([("traceparent", parent), ("tracestate", b"k=" + b"v" * 600)])
    assert long.state is None


async def test_a_stage_passes_tracestate_on_to_its_outputs() -> None:
    worker = build_worker(IngestSettings())
    state = b"vendor=abc123"
    headers = [
        ("traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        ("tracestate", state),
    ]
    record = InputRecord(
        "news.raw", 0, 0, 0, None, raw_event(seed_text()).model_dump_json().encode(), headers
    )
    result = await process_record(worker, record)
    [article] = [r for r in result.records if r.topic == topics.ARTICLES.name]
    assert dict(article.headers)["tracestate"] == state
