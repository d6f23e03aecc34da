"""The full chaos run: all six scenarios with 100,000 raw articles on a private broker.

tests/conftest.py does not skip ``slow`` tests (``make test`` runs them), and this one takes
far longer than the suite, so it runs only when ``NEWSWIRE_CHAOS_FULL`` is set (``make chaos``
runs the same through ``python -m tests.chaos`` and prints the table):

    NEWSWIRE_CHAOS_FULL=1 .venv/bin/pytest tests/chaos/test_chaos_full.py -s
    NEWSWIRE_CHAOS_N=20000 NEWSWIRE_CHAOS_FULL=1 ...   (a smaller N)
"""

import os

import pytest

from tests.chaos import corpus
from tests.chaos.harness import SCENARIOS, Harness, table

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.environ.get("NEWSWIRE_CHAOS_FULL"), reason="set NEWSWIRE_CHAOS_FULL=1 to run"
    ),
]


@pytest.mark.timeout(6 * 3600)
@pytest.mark.parametrize("guarantee", ["at_least_once", "exactly_once"])
async def test_full_chaos(guarantee: str) -> None:
    n = int(os.environ.get("NEWSWIRE_CHAOS_N", "100000"))
    data = corpus.build(n, seed=8)
    results = []
    harness = Harness(data, guarantee=guarantee, deadline_s=3600.0)
    async with harness:
        for name in SCENARIOS:
            results.append(await harness.run(name))
    harness.cleanup()
    print("\n" + table(results))
    for result in results:
        assert result.lost == 0, result.scenario
        assert result.unexpected == 0, result.scenario
        assert result.dlq_reason_mismatches == 0, result.scenario
        if guarantee == "exactly_once":
            assert result.duplicated == 0, result.scenario
