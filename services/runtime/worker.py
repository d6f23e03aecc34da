"""A worker declaration, and what happens to one record (pure: no Kafka, no clock).

A step is a typed async function from the source topic's model (and a :class:`StepContext`)
to the sink topic's model: it returns one output, a list of outputs, or ``None``. It raises
:class:`InvalidMessage` for bad data. Through the context it may also drop with a reason
(counted), write side records (a state table's changelog) and dead-letter the input while
still returning outputs (a feed with one bad item). Everything else (decoding, keys, dead
letters, offsets, metrics) is the runtime's.
"""

import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, Protocol, TypeVar

import structlog
from prometheus_client.registry import Collector
from pydantic import BaseModel, ValidationError

from schemas.topics import TopicSpec
from services.runtime.dlq import Headers, SourcePosition, dead_letter_headers
from services.runtime.errors import InvalidMessage
from services.runtime.parallel import Prepare
from services.runtime.trace import TraceParent, continue_from, from_headers, with_traceparent

In = TypeVar("In", bound=BaseModel)
Out = TypeVar("Out", bound=BaseModel)

log = structlog.get_logger("newswire.runtime")


@dataclass(frozen=True)
class Encoded:
    """A sink record the step encoded itself: the sink model's JSON and its key, e.g. built
    by a step pool's child, where shipping the bytes costs a fraction of pickling the model
    (enrich: ~0.05 ms against ~0.9 ms an article, measured). The step vouches that ``value``
    is the JSON of a valid sink model; tests hold each such step to it."""

    key: bytes | None
    value: bytes


Step = Callable[[In, "StepContext"], Awaitable[Out | Encoded | Sequence[Out | Encoded] | None]]


@dataclass(frozen=True)
class OutRecord:
    """A record to produce, with its topic name not yet prefixed; ``value=None`` is a tombstone."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: Headers = field(default_factory=list)


@dataclass(frozen=True)
class Worker(Generic[In, Out]):
    """One stage: read ``source``, run ``step`` on each record, write to ``sink``.

    ``tables`` are changelog-backed state the step reads and writes; the runtime restores them
    before the first record and produces their writes with the batch. ``companions`` are
    servers that live as long as the worker (notify's subscription API): started once the
    tables are restored, stopped first at shutdown. ``prepare`` is the step's pure, CPU-heavy
    first half, run on each record's value before the step (in child processes when
    ``step_processes`` is set, see parallel.py); the step finds its result in
    ``ctx.prepared``.
    """

    name: str
    source: TopicSpec[In]
    sink: TopicSpec[Out]
    step: Step[In, Out]
    tables: tuple[Any, ...] = ()
    companions: tuple["Companion", ...] = ()
    # The stage's own metrics, registered in the worker's registry next to the runtime's.
    collectors: tuple[Collector, ...] = ()
    prepare: "Prepare[Any] | None" = None


class Companion(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


Outcome = Literal["ok", "dropped", "dead_letter"]


@dataclass(frozen=True)
class Processed:
    outcome: Outcome
    records: list[OutRecord]
    reason: str | None = None
    drops: tuple[str, ...] = ()


@dataclass(frozen=True)
class InputRecord:
    """The parts of a consumed record that processing needs (aiokafka's ConsumerRecord fits)."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: Headers


@dataclass
class StepContext:
    """What a step may know of and say about the record it is processing."""

    record: "InputRecord"
    side_records: list[OutRecord] = field(default_factory=list)
    drops: list[str] = field(default_factory=list)
    rejection: InvalidMessage | None = None
    # The worker's ``prepare`` result for this record (None for a worker without one).
    prepared: Any = None

    @property
    def position(self) -> tuple[int, int]:
        """(partition, offset) of the input record."""
        return self.record.partition, self.record.offset

    def emit(self, record: OutRecord) -> None:
        """Produce ``record`` with this record's outputs (acknowledged before the commit)."""
        self.side_records.append(record)

    def drop(self, reason: str) -> None:
        """An output was deliberately not produced (e.g. ``duplicate_url``); counted by reason."""
        self.drops.append(reason)

    def dead_letter(self, error: InvalidMessage) -> None:
        """Send the input to the DLQ with ``error`` even though the step returns outputs."""
        self.rejection = error


@functools.cache
def _may_carry(model: type[BaseModel], name: str) -> bool:
    """Whether instances of ``model`` can have attribute ``name``. Asking an instance that
    cannot costs pydantic's __getattr__ building an AttributeError, ~1.5 µs, twice per record
    of a model naming no article (the raw event)."""
    return (
        name in model.model_fields
        or hasattr(model, name)
        or model.model_config.get("extra") == "allow"
    )


def article_id_of(model: BaseModel) -> str | None:
    """The article a record is about, for log context, if the model names one."""
    direct = getattr(model, "article_id", None) if _may_carry(type(model), "article_id") else None
    if isinstance(direct, str):
        return direct
    nested = getattr(model, "article", None) if _may_carry(type(model), "article") else None
    nested_id = getattr(nested, "article_id", None)
    return nested_id if isinstance(nested_id, str) else None


def _decode(spec: TopicSpec[In], value: bytes | None) -> In:
    if value is None:
        raise InvalidMessage("empty_value", "record has no value (a tombstone on a data topic)")
    try:
        return spec.model.model_validate_json(value)
    except ValidationError as exc:
        # include_input=False: the payload may be megabytes; the DLQ keeps it as the value.
        detail = exc.json(include_url=False, include_input=False)
        raise InvalidMessage(
            "invalid_envelope", f"not a valid {spec.model.__name__}: {detail}"
        ) from exc


def _encode(spec: TopicSpec[Out], out: Out | Encoded, span: TraceParent) -> OutRecord:
    if isinstance(out, Encoded):
        return OutRecord(spec.name, out.key, out.value, with_traceparent([], span))
    key = spec.key_of(out).encode() if spec.key_of else None
    return OutRecord(spec.name, key, out.model_dump_json().encode(), with_traceparent([], span))


def _as_list(result: Out | Encoded | Sequence[Out | Encoded] | None) -> list[Out | Encoded]:
    if result is None:
        return []
    if isinstance(result, BaseModel | Encoded):
        return [result]
    return list(result)


# process_record's ``prepared`` when the caller did not run the worker's prepare function.
NOT_PREPARED: Any = object()


async def process_record(
    worker: Worker[In, Out],
    record: "InputRecord",
    max_bytes: int | None = None,
    prepared: Any = NOT_PREPARED,
) -> Processed:
    """Decode, run the step, encode; bad data becomes one dead-letter record.

    Exceptions other than :class:`InvalidMessage` (and pydantic errors building an output,
    which mean the input held values the contract forbids) propagate: they are bugs or
    outages, and the loop must stop rather than skip the record.

    Every output on the sink carries a ``traceparent`` continuing the input's trace (or
    starting one), and ``trace_id`` is bound to the log context next to ``article_id``; side
    records (state changelogs) are not part of an article's journey and carry none.

    ``prepared``: the worker's ``prepare`` result for this record, computed elsewhere (a
    step pool); without it, the prepare function runs here.
    """
    ctx = StepContext(record)
    span = continue_from(record.headers)
    structlog.contextvars.bind_contextvars(trace_id=span.trace_id)
    try:
        if max_bytes is not None and len(record.value or b"") > max_bytes:
            raise InvalidMessage(
                "record_too_large", f"{len(record.value or b'')} bytes > limit {max_bytes}"
            )
        message = _decode(worker.source, record.value)
        if worker.prepare is not None:
            ctx.prepared = worker.prepare(record.value) if prepared is NOT_PREPARED else prepared
        article_id = article_id_of(message)
        if article_id:
            structlog.contextvars.bind_contextvars(article_id=article_id)
        try:
            outputs = _as_list(await worker.step(message, ctx))
        except ValidationError as exc:
            detail = exc.json(include_url=False, include_input=False)
            raise InvalidMessage("invalid_output", detail) from exc
        encoded = [_encode(worker.sink, out, span) for out in outputs] + ctx.side_records
        if ctx.rejection is not None:
            return _dead_letter(worker, record, ctx.rejection, encoded, tuple(ctx.drops), span)
    except InvalidMessage as exc:
        return _dead_letter(worker, record, exc, [], (), span)
    if not outputs:
        return Processed("dropped", encoded, drops=tuple(ctx.drops))
    return Processed("ok", encoded, drops=tuple(ctx.drops))


def _dead_letter(
    worker: Worker[Any, Any],
    record: "InputRecord",
    exc: InvalidMessage,
    also: list[OutRecord],
    drops: tuple[str, ...],
    span: TraceParent,
) -> Processed:
    if worker.source.dlq is None:
        raise exc
    where = SourcePosition(record.topic, record.partition, record.offset, record.timestamp)
    original = record.headers
    if from_headers(original) is None:
        # The dead letter keeps the original headers, but one without a usable trace gets
        # the trace this stage started, so the logged trace_id finds it in the DLQ too.
        original = with_traceparent(original, span)
    headers = dead_letter_headers(original, exc, worker.name, where)
    dead = OutRecord(worker.source.dlq, record.key, record.value or b"", headers)
    log.warning("record_dead_lettered", reason=exc.reason, detail=exc.detail[:300])
    return Processed("dead_letter", [*also, dead], exc.reason, drops)


def to_input(record: Any) -> InputRecord:
    """Adapts an aiokafka ConsumerRecord."""
    return InputRecord(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        timestamp=record.timestamp,
        key=record.key,
        value=record.value,
        headers=list(record.headers or []),
    )
