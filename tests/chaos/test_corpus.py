"""The chaos corpus is what the checker assumes: unique articles, copies after their
originals, and poison that ingest rejects with the reason recorded for it."""

import pydantic
import pytest

from schemas.raw import RawArticleEvent
from services.ingest.normalize import NormalizePolicy, normalize
from services.ingest.parse import ParseError
from tests.chaos.corpus import POISON_KINDS, build


def reason_of(value: bytes) -> str | None:
    """What ingest's offline path says of a record: a reason, or None for an article."""
    try:
        event = RawArticleEvent.model_validate_json(value)
    except pydantic.ValidationError:
        return "invalid_envelope"
    try:
        result = normalize(event, NormalizePolicy())
    except ParseError as exc:
        return exc.reason
    return result.errors[0].reason if result.errors else None


def test_counts_uniqueness_and_order() -> None:
    corpus = build(1000, seed=3)
    assert corpus.valid == 1000
    assert corpus.copies == 50
    assert len(corpus.poison) == 10
    assert len(corpus.records) == 1060
    assert {p.kind for p in corpus.poison.values()} == set(POISON_KINDS)
    # Every re-sent record is an exact copy of one seen earlier in the stream.
    seen: set[tuple[bytes, bytes]] = set()
    repeats = 0
    for record in corpus.records:
        if (record.key, record.value) in seen:
            repeats += 1
        seen.add((record.key, record.value))
    assert repeats == corpus.copies


def test_same_seed_same_corpus() -> None:
    assert build(200, seed=5).records == build(200, seed=5).records
    assert build(200, seed=5).records != build(200, seed=6).records


@pytest.mark.parametrize("kind", POISON_KINDS)
def test_each_poison_kind_is_rejected_with_its_reason(kind: str) -> None:
    corpus = build(500, seed=1)
    for key, poison in corpus.poison.items():
        if poison.kind == kind:
            assert reason_of(poison.value) == poison.reason, key


def test_valid_events_parse_to_one_article() -> None:
    corpus = build(300, seed=2)
    poison_values = {p.value for p in corpus.poison.values()}
    for record in corpus.records:
        if record.value not in poison_values:
            assert reason_of(record.value) is None
