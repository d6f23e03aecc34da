"""The step pool (services/runtime/parallel.py): a worker's prepare half in child processes,
results in record order, bad data returned intact, bugs raised; ingest's and enrich's
prepare halves giving in a child what the loop's process gives."""

import os
import pickle
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool

import pytest

from bench.corpus import mixed
from bench.enrich import corpus
from schemas.enriched import EnrichedArticle
from services.enrich.settings import EnrichSettings
from services.enrich.step import Analysis, analyze_value, analyzer_for, enrich
from services.enrich.stories import StoryShingles
from services.ingest.normalize import normalize
from services.ingest.parse import ParseError
from services.ingest.settings import IngestSettings
from services.ingest.step import NormalizedEvent, build_worker, normalize_value, policy_from
from services.runtime.errors import InvalidMessage
from services.runtime.parallel import CHUNK_RECORDS, Prepare, StepPool
from services.runtime.worker import NOT_PREPARED, InputRecord, process_record


def tagged(value: bytes | None, tag: str) -> tuple[str, bytes | None, int]:
    """What a child saw: the tag it was given, the value and its own process id."""
    if value == b"boom":
        raise RuntimeError("a bug in the prepare function")
    return tag, value, os.getpid()


def dying(value: bytes | None) -> bytes | None:
    if value == b"die":
        os._exit(3)  # a child killed mid-batch (out of memory, a crash in C code)
    return value


def rejecting(value: bytes | None) -> InvalidMessage:
    return ParseError("missing_title", f"no title in {value!r}")


@pytest.fixture(scope="module")
def pool() -> Iterator[StepPool]:
    step_pool = StepPool(Prepare(tagged, ("t",)), processes=2)
    yield step_pool
    step_pool.close()


async def test_results_come_back_in_record_order_from_the_children(pool: StepPool) -> None:
    await pool.start()
    values: list[bytes | None] = [str(i).encode() for i in range(5 * CHUNK_RECORDS + 3)]
    values[7] = None
    results = await pool.map(values)
    assert [value for _, value, _ in results] == values
    assert {tag for tag, _, _ in results} == {"t"}
    pids = {pid for _, _, pid in results}
    assert os.getpid() not in pids
    assert pids <= set(pool.child_pids())
    assert await pool.map([]) == []


async def test_a_raise_in_a_child_is_raised_to_the_loop(pool: StepPool) -> None:
    with pytest.raises(RuntimeError, match="a bug in the prepare function"):
        await pool.map([b"fine", b"boom", b"fine"])
    # The pool is still usable afterwards (the loop stops; a rebuild would use it again).
    assert [v for _, v, _ in await pool.map([b"again"])] == [b"again"]


async def test_a_returned_rejection_keeps_its_reason_and_detail() -> None:
    step_pool = StepPool(Prepare(rejecting), processes=1)
    try:
        [error] = await step_pool.map([b"x"])
    finally:
        step_pool.close()
    assert isinstance(error, ParseError)
    assert (error.reason, error.detail) == ("missing_title", "no title in b'x'")


async def test_a_dead_child_breaks_the_batch_loudly() -> None:
    step_pool = StepPool(Prepare(dying), processes=2)
    try:
        with pytest.raises(BrokenProcessPool):
            await step_pool.map([b"a", b"die", b"b"])
    finally:
        step_pool.close()


def test_rejections_pickle_as_themselves() -> None:
    error = pickle.loads(pickle.dumps(ParseError("html_too_large", "3 bytes > limit 2")))
    assert type(error) is ParseError
    assert (error.reason, error.detail, str(error)) == (
        "html_too_large",
        "3 bytes > limit 2",
        "html_too_large: 3 bytes > limit 2",
    )


def test_a_pool_needs_a_process() -> None:
    with pytest.raises(ValueError, match="at least one process"):
        StepPool(Prepare(tagged), processes=0)


async def test_ingest_articles_are_the_same_from_a_child_as_in_process() -> None:
    """Every format of the bench corpus (text, JSON, HTML, RSS) through a real child: the
    articles' JSON equals the Articles normalised here, dumped; dedup's fields are theirs."""
    policy = policy_from(IngestSettings())
    events = mixed(60, "pool")
    values = [e.model_dump_json().encode() for e in events] + [b"{not json"]
    step_pool = StepPool(Prepare(normalize_value, (policy,)), processes=2)
    try:
        from_children = await step_pool.map(values)
    finally:
        step_pool.close()
    articles = 0
    for event, child in zip(events, from_children, strict=False):
        local = normalize(event, policy)
        assert isinstance(child, NormalizedEvent)
        assert [a.json for a in child.articles] == [
            a.model_dump_json().encode() for a in local.articles
        ]
        assert [(a.article_id, a.url, a.content_hash, a.source) for a in child.articles] == [
            (a.article_id, a.url, a.content_hash, a.source) for a in local.articles
        ]
        assert [str(e) for e in child.errors] == [str(e) for e in local.errors]
        articles += len(local.articles)
    assert articles > 60
    rejected = from_children[-1]
    assert isinstance(rejected, InvalidMessage)
    assert rejected.reason == "invalid_envelope"


async def test_process_record_runs_the_prepare_half_itself_without_a_pool() -> None:
    worker = build_worker(IngestSettings())
    [event] = mixed(1, "inline", duplicates=0.0)
    record = InputRecord("news.raw", 0, 0, 0, b"k", event.model_dump_json().encode(), [])
    inline = await process_record(worker, record, prepared=NOT_PREPARED)
    assert inline.outcome == "ok"
    # A prepared value handed in is used as is: here a rejection the step raises.
    given = ParseError("missing_title", "prepared elsewhere")
    again = InputRecord("news.raw", 0, 1, 0, b"k2", record.value, [])
    rejected = await process_record(worker, again, prepared=given)
    assert (rejected.outcome, rejected.reason) == ("dead_letter", "missing_title")


async def test_enriched_json_from_a_child_is_the_model_path_s_json() -> None:
    """enrich's prepare half ships JSON with the story left out, and the step sets it: the
    bytes equal what the model path (enrich with the story id, then model_dump_json) writes,
    for every article of the enrich bench corpus, and they validate as an EnrichedArticle."""
    settings = EnrichSettings()
    articles = corpus(45)
    values = [a.model_dump_json().encode() for a in articles]
    step_pool = StepPool(Prepare(analyze_value, (settings,)), processes=2)
    try:
        analyses = await step_pool.map(values)
    finally:
        step_pool.close()
    analyzer = analyzer_for(settings.taxonomy_path, settings.gazetteer_path, "multilingual")
    for article, analysis in zip(articles, analyses, strict=True):
        assert isinstance(analysis, Analysis)
        story = "f" * 32
        expected = enrich(
            article, analyzer.taxonomy, analyzer.gazetteer, analyzer.model, story_id=story
        )
        assert analysis.with_story(story) == expected.model_dump_json().encode()
        assert EnrichedArticle.model_validate_json(analysis.with_story(story)) == expected
        assert analysis.topic_ids == tuple(t.id for t in expected.topics)
        assert analysis.shingles == StoryShingles.of(article)
    assert any(a.topic_ids for a in analyses)


def test_a_story_is_set_only_where_the_field_is() -> None:
    """An article whose text holds the field's spelling: the quotes inside a JSON string are
    escaped, so only the field itself changes."""
    settings = EnrichSettings()
    [article] = corpus(1)
    tricky = article.model_copy(update={"body": article.body + ' "story_id":null'})
    analysis = analyze_value(tricky.model_dump_json().encode(), settings)
    assert isinstance(analysis, Analysis)
    enriched = EnrichedArticle.model_validate_json(analysis.with_story("a" * 32))
    assert enriched.story_id == "a" * 32
    assert enriched.article.body.endswith(' "story_id":null')
    broken = Analysis(b"{}", (), analysis.shingles)
    with pytest.raises(ValueError, match="exactly one null story_id"):
        broken.with_story("a" * 32)
