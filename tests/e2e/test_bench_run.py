"""bench/run.py --quick end to end on the test broker: every section is there and moved
articles. Not a timed assertion: the figures themselves are the benchmark's business."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.run import find_peers_python
from services.runtime.local import REPO_ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_quick_run_writes_every_section(kafka_bootstrap: str, tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--out", str(out)],
        env={**os.environ, "NEWSWIRE_BENCH_BOOTSTRAP": kafka_bootstrap},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    res = json.loads(out.read_text())
    assert (tmp_path / "run.png").stat().st_size > 0

    measured = [
        *(res["ceiling"][k] for k in ("raw", "articles", "enriched")),
        res["stages"]["ingest"],
        res["stages"]["enrich"],
        *res["stages"]["notify"].values(),
        res["pipeline"]["x1"],
    ]
    for m in measured:
        assert m["articles_per_s"] > 0
        assert m["cpu_s_per_1k_articles"]
    paced = res["pipeline"]["x1"]["paced"]
    assert paced["latency_ms_all_alerts"]["n"] > 0
    assert paced["latency_ms_all_alerts"]["p99"] >= paced["latency_ms_all_alerts"]["p50"]

    if find_peers_python(None) is None:
        # No interpreter with quixstreams and faststream (make bench-deps builds .venv-peers).
        assert "skipped" in res["peers"]
    else:
        for name in (
            "newswire",
            "quixstreams",
            "faststream",
            "faststream_ack_first",
            "faststream_batch",
        ):
            assert res["peers"][name]["articles_per_s"] > 0
    assert set(res["targets"]) >= {
        "pipeline_ratio_to_ceiling_ge_0.30",
        "pipeline_articles_per_s_ge_1500",
        "p99_raw_to_alert_le_250ms_at_half_max",
    }
