"""CPU time of the ingest worker's per-record path, in this process, without Kafka.

    python -m bench.ingest_cpu [--events 4000] [--passes 3] [--profile out.prof]
                               [--dump out.jsonl]

Runs :func:`services.runtime.worker.process_record` with the real ingest worker
(services/ingest/step.py) over the bench corpus (bench/corpus.py ``mixed``, encoded as
``produce_raw`` sends it), plus (for ``--dump``) every raw fixture under tests/fixtures, the
sample articles and the eval texts of tests/eval in three formats. What the stage loop adds
around it (aiokafka, batching, metrics) is not in here; bench/ingest.py measures the whole
worker. CPU time (time.process_time) is the figure to compare on a shared machine: wall
clock swings with the neighbours.

``--dump`` writes every output record (Article JSON, dedup changelog rows with their
time stripped, dead letters' reason) one per line, with the corpus's times fixed, so two
versions of the code can be compared byte for byte (``cmp a.jsonl b.jsonl``).
"""

import argparse
import asyncio
import base64
import cProfile
import json
import os
import time
import zlib
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from bench import corpus
from schemas.raw import RawArticleEvent
from services.demo import SAMPLES
from services.ingest.settings import IngestSettings
from services.ingest.step import build_worker
from services.runtime.io import content_type_for, raw_key
from services.runtime.local import REPO_ROOT
from services.runtime.logging import configure_logging
from services.runtime.worker import InputRecord, Processed, Worker, process_record

FIXTURES = REPO_ROOT / "tests" / "fixtures"
PARTITIONS = 6
# Fixed, so the dumped Articles do not depend on when the run was.
FIXED_NOW = datetime(2025, 3, 2, 12, 0, tzinfo=UTC)


def fixture_events() -> list[RawArticleEvent]:
    """Every raw fixture file and sample article, as a scraper would send it."""
    events = []
    paths = sorted(p for p in FIXTURES.rglob("*") if p.is_file() and p.suffix != ".md")
    paths += sorted(SAMPLES.glob("*.txt"))
    for path in paths:
        data = path.read_bytes()
        try:
            payload, encoding = data.decode("utf-8"), "text"
        except UnicodeDecodeError:
            payload, encoding = base64.b64encode(data).decode(), "base64"
        events.append(
            RawArticleEvent.model_validate(
                {
                    "source": "fixture",
                    "fetched_at": FIXED_NOW,
                    "content_type": content_type_for(path),
                    "payload": payload,
                    "payload_encoding": encoding,
                    "url": f"https://fixture.example/{path.relative_to(REPO_ROOT)}",
                }
            )
        )
    return events


def eval_events() -> list[RawArticleEvent]:
    """The labelled eval texts (tests/eval) in every format: varied wording and languages
    for comparing outputs, where the bench corpus repeats one article."""
    import yaml

    eval_dir = REPO_ROOT / "tests" / "eval"
    articles = yaml.safe_load((eval_dir / "articles.yaml").read_text())["articles"]
    passages = yaml.safe_load((eval_dir / "languages.yaml").read_text())
    items = [(a["id"], a["title"], a.get("summary") or [], a["body"]) for a in articles]
    items += [
        (f"{lang}{i}", text.split(",")[0][:80], [], text)
        for lang, texts in passages.items()
        for i, text in enumerate(texts)
    ]
    events = []
    for n, (ident, title, summary, body) in enumerate(items):
        url = f"https://eval.example/{ident}"
        paragraphs = "".join(f"<p>{escape(p)}</p>" for p in body.split(". ") if p.strip())
        json_doc = {"title": title, "description": " ".join(summary), "content": body, "url": url}
        json_doc["published_at"] = f"2025-03-01T{n % 24:02d}:00:00+01:00"
        page = (
            f'<html lang="en"><head><title>{escape(title)} | Eval</title>'
            f'<meta property="og:title" content="{escape(title)}">'
            f'<meta name="description" content="{escape(" ".join(summary))}">'
            f'<meta property="article:published_time" content="2025-03-0{n % 9 + 1}T10:00:00Z">'
            f'</head><body><nav><a href="/">Home</a></nav><article><h1>{escape(title)}</h1>'
            f"{paragraphs}</article><footer>Copyright Eval</footer></body></html>"
        )
        feed = (
            '<?xml version="1.0"?><rss version="2.0" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>Eval</title>'
            f"<item><title>{escape(title)}</title><link>{url}/rss</link>"
            f"<description>{escape(' '.join(summary))}</description>"
            f"<content:encoded><![CDATA[{paragraphs}]]></content:encoded></item></channel></rss>"
        )
        for content_type, payload, at in (
            ("application/json", json.dumps(json_doc), url + "/json"),
            ("text/html", page, url + "/html"),
            ("application/rss+xml", feed, None),
        ):
            events.append(
                RawArticleEvent(
                    source="eval",
                    fetched_at=FIXED_NOW,
                    content_type=content_type,
                    payload=payload,
                    url=at,
                )
            )
    return events


def records(events: list[RawArticleEvent]) -> list[InputRecord]:
    offsets = [0] * PARTITIONS
    out = []
    for event in events:
        key = raw_key(event)
        partition = zlib.crc32(key) % PARTITIONS
        out.append(
            InputRecord(
                "news.raw",
                partition,
                offsets[partition],
                0,
                key,
                event.model_dump_json().encode(),
                [],
            )
        )
        offsets[partition] += 1
    return out


async def run_pass(worker: Worker[Any, Any], inputs: list[InputRecord]) -> list[Processed]:
    return [await process_record(worker, r) for r in inputs]


def dump_line(result: Processed) -> str:
    outs: list[Any] = []
    for rec in result.records:
        if rec.topic == "news.articles":
            outs.append({"article": json.loads(rec.value or b"null")})
        elif rec.topic.endswith("dedup"):
            row = json.loads(rec.value or b"null")
            row.pop("t", None)
            outs.append({"dedup": row, "key": (rec.key or b"").decode()})
        else:
            outs.append({"topic": rec.topic, "headers": [k for k, _ in rec.headers]})
    return json.dumps(
        {"outcome": result.outcome, "reason": result.reason, "drops": result.drops, "out": outs},
        sort_keys=True,
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=4000)
    p.add_argument("--passes", type=int, default=3)
    p.add_argument("--profile", type=Path, help="write a cProfile of one more pass here")
    p.add_argument("--dump", type=Path, help="write every output of the first pass here")
    a = p.parse_args()
    # bench/ingest.py runs its workers at warning; info adds a line per article.
    configure_logging(os.environ.get("NEWSWIRE_LOG_LEVEL", "warning"))
    corpus._NOW = FIXED_NOW  # the corpus stamps its events with its import time
    events = corpus.mixed(a.events, "backlog")
    inputs = records(events)
    fixtures = records(fixture_events() + eval_events())
    settings = IngestSettings()

    # Warm: the language models and parsers load once per process, as in a worker.
    asyncio.run(run_pass(build_worker(settings), inputs[:50]))
    per_event_ms = []
    for n in range(a.passes):
        worker = build_worker(settings)  # an empty dedup table: the same duplicates each pass
        started = time.process_time()
        results = asyncio.run(run_pass(worker, inputs))
        per_event_ms.append(1000 * (time.process_time() - started) / len(inputs))
        if n == 0 and a.dump:
            fixture_results = asyncio.run(run_pass(build_worker(settings), fixtures))
            a.dump.write_text("".join(dump_line(r) + "\n" for r in results + fixture_results))
    outcomes: dict[str, int] = {}
    for r in results:
        outcomes[r.outcome] = outcomes.get(r.outcome, 0) + 1
    print(
        f"{len(inputs)} events {outcomes}; CPU ms/event per pass: "
        + ", ".join(f"{ms:.3f}" for ms in per_event_ms)
        + f"; min {min(per_event_ms):.3f}"
    )
    if a.profile:
        worker = build_worker(settings)
        prof = cProfile.Profile()
        prof.enable()
        asyncio.run(run_pass(worker, inputs))
        prof.disable()
        prof.dump_stats(a.profile)
        print(f"profile written to {a.profile}")


if __name__ == "__main__":
    main()
