"""What the language packs cost: ingest + enrich of one mixed-language corpus, with and
without them, in one run (issue 10: no more than 20 % slower than the English-only path).

    python -m bench.multilingual [--articles 2000] [--rounds 5]

The corpus cycles every labelled eval article (tests/eval/articles.yaml and every
articles.<code>.yaml) under fresh titles and URLs, so each language appears in the share its
eval set has. Each is parsed and normalised by ingest (JSON path, language detection
included) and enriched (entities, sentiment, keyphrases, topics, story lookup), twice per
round in alternating order:

- multilingual: the taxonomy and gazetteer with their language packs (what workers run);
- English-only: the same files with no pack folder (every article meets the English rules
  and aliases only, as before issue 10).

Rates are articles per CPU second of this process (the machine is shared; wall clock is
printed too), median over the rounds. Writes bench/results/multilingual.json.
"""

import argparse
import gc
import json
import statistics
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from bench.enrich_quality import EVAL_SET, language_sets, raw_event
from schemas.raw import RawArticleEvent
from services.enrich.entities import Gazetteer, load_gazetteer
from services.enrich.settings import DEFAULT_GAZETTEER, DEFAULT_TAXONOMY
from services.enrich.step import enrich
from services.enrich.stories import StoryIndex, story_table
from services.enrich.taxonomy import Taxonomy, load_taxonomy
from services.ingest.normalize import single_article
from services.query.article import article_document
from services.runtime.local import REPO_ROOT

RESULTS = REPO_ROOT / "bench" / "results"
NO_PACKS = Path("/nonexistent-newswire-language-packs")


def corpus(n: int) -> list[RawArticleEvent]:
    items: list[dict[str, Any]] = []
    for path in [EVAL_SET, *language_sets().values()]:
        items.extend(yaml.safe_load(path.read_text(encoding="utf-8"))["articles"])
    events = []
    for i in range(n):
        item = dict(items[i % len(items)])
        item["title"] = f"{item['title']} ({i})"
        item["id"] = f"{item['id']}-{i}"
        events.append(raw_event(item))
    return events


def one_pass(
    events: list[RawArticleEvent], taxonomy: Taxonomy, gazetteer: Gazetteer
) -> dict[str, float]:
    stories = StoryIndex(story_table("bench", 10**12, lambda: 0))
    cpu_started, started = time.process_time(), time.perf_counter()
    for event in events:
        article = single_article(event)
        doc = article_document(article)  # as the worker's step does
        story, _, _ = stories.assign(article, 0, doc)
        enrich(article, taxonomy, gazetteer, story_id=story, document=doc)
    cpu = time.process_time() - cpu_started
    return {"per_cpu_s": len(events) / cpu, "per_s": len(events) / (time.perf_counter() - started)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    events = corpus(args.articles)
    languages = Counter(single_article(e).language for e in events)
    paths = {
        "multilingual": (load_taxonomy(DEFAULT_TAXONOMY), load_gazetteer(DEFAULT_GAZETTEER)),
        "english_only": (
            load_taxonomy(DEFAULT_TAXONOMY, NO_PACKS),
            load_gazetteer(DEFAULT_GAZETTEER, NO_PACKS),
        ),
    }
    for taxonomy, gazetteer in paths.values():
        one_pass(events[:50], taxonomy, gazetteer)  # warm the models and caches
    gc.freeze()
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in paths}
    for r in range(args.rounds):
        order = list(paths) if r % 2 == 0 else list(reversed(paths))
        for name in order:
            runs[name].append(one_pass(events, *paths[name]))
    out: dict[str, Any] = {"articles": len(events), "languages": dict(languages)}
    for name, results in runs.items():
        out[name] = {
            "articles_per_cpu_s": round(statistics.median(r["per_cpu_s"] for r in results), 1),
            "articles_per_s": round(statistics.median(r["per_s"] for r in results), 1),
            "per_cpu_s_runs": [round(r["per_cpu_s"], 1) for r in results],
        }
    ratio = out["multilingual"]["articles_per_cpu_s"] / out["english_only"]["articles_per_cpu_s"]
    out["ratio"] = round(ratio, 3)
    print(f"{len(events)} articles: " + ", ".join(f"{k} {v}" for k, v in languages.most_common()))
    for name in paths:
        d = out[name]
        print(
            f"{name:<13} {d['articles_per_cpu_s']:>8.1f} articles/CPU s "
            f"({d['articles_per_s']:.1f}/s wall; runs {d['per_cpu_s_runs']})"
        )
    verdict = "✔" if ratio >= 0.8 else "✘"
    print(f"multilingual / English-only: {ratio:.3f} (target >= 0.80 {verdict})")
    out["measured_at"] = datetime.now(UTC).isoformat()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "multilingual.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
