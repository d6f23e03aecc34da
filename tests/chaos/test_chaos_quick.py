"""The quick chaos run in ``make test``: 5,000 raw articles (plus 250 copies and 50 poison)
through ingest → enrich → notify on the session's broker, for the four scenarios that leave
the broker alone: every worker SIGKILLed three times and restarted; an enrich worker
SIGSTOPped past the session timeout and resumed; enrich scaled 1 → 4 → 1; a webhook receiver
that hangs, fails, then recovers (deliver running too). The broker scenarios need a broker of
their own and minutes of outage: test_readiness.py stops a worker's broker in both modes in
``make test``; the full run (all six, 100,000) is test_chaos_full.py and ``make chaos``.

Both guarantees are run: at-least-once must lose nothing, exactly-once must lose and repeat
nothing."""

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.chaos import corpus
from tests.chaos.harness import Harness, Result, table

pytestmark = [pytest.mark.chaos, pytest.mark.e2e]

N = 5_000
QUICK = ("worker_kills", "zombie", "scale", "webhook")


@pytest.fixture(scope="module")
def chaos_corpus() -> corpus.Corpus:
    return corpus.build(N, seed=8)


@pytest.fixture(params=["at_least_once", "exactly_once"])
async def harness(
    request: pytest.FixtureRequest,
    chaos_corpus: corpus.Corpus,
    kafka_bootstrap: str,
    tmp_path: Path,
) -> AsyncIterator[Harness]:
    guarantee: str = request.param
    async with Harness(
        chaos_corpus,
        guarantee=guarantee,
        deadline_s=float(os.environ.get("NEWSWIRE_CHAOS_DEADLINE", "300")),
        workdir=tmp_path,
        shared_bootstrap=kafka_bootstrap,
    ) as h:
        yield h


def assert_targets(result: Result) -> None:
    raw = result.counts["articles"]
    assert raw.expected == N
    assert result.lost == 0, {k: c.lost_ids for k, c in result.counts.items() if c.lost}
    assert result.unexpected == 0
    assert result.dlq_reason_mismatches == 0
    assert result.counts["news.raw.dlq"].records >= 50
    assert result.counts["alerts"].expected > 1000  # the subscriptions matched something
    if result.guarantee == "exactly_once":
        assert result.duplicated == 0


@pytest.mark.timeout(600)
@pytest.mark.parametrize("scenario", QUICK)
async def test_quick_chaos(harness: Harness, scenario: str) -> None:
    result = await harness.run(scenario)
    print("\n" + table([result]))
    assert result.faults, "no fault was injected: the run proved nothing"
    assert_targets(result)
