"""enrich's outputs on the labelled eval set and the sample articles, against a golden file.

Speed work on enrich (tokenisation shared, lookups memoised, rules prefiltered) must not
change a single tag, entity, keyphrase, score or story id. The golden file is regenerated
only on purpose, when an output is meant to change (a rule, the lexicon, the taxonomy):

    .venv/bin/python -m tests.unit.test_enrich_golden
"""

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.enrich_quality import EVAL_SET, raw_event
from schemas.article import Article
from services.demo import SAMPLES
from services.enrich.entities import load_gazetteer
from services.enrich.settings import DEFAULT_GAZETTEER, DEFAULT_TAXONOMY
from services.enrich.step import enrich
from services.enrich.stories import StoryIndex, story_table
from services.enrich.taxonomy import load_taxonomy
from services.ingest.normalize import single_article
from services.query.article import article_document
from tests.helpers import raw_event as text_event

GOLDEN = Path(__file__).parent / "data" / "enriched_golden.jsonl"
SAMPLE_FILES = (
    "ecb-holds-rates.txt",
    "pacific-security-pact.txt",
    "raw-article-ukraine-guarantees.txt",
    "spain-heatwave.txt",
    "ukraine-grain-exports.txt",
)


def articles() -> list[tuple[str, Article]]:
    items = yaml.safe_load(EVAL_SET.read_text(encoding="utf-8"))["articles"]
    out = [(str(item["id"]), single_article(raw_event(item))) for item in items]
    for name in SAMPLE_FILES:
        text = (SAMPLES / name).read_text(encoding="utf-8")
        out.append((name, single_article(text_event(text))))
    return out


def enriched_records(shared_document: bool = False) -> list[dict[str, Any]]:
    """What enrich adds to each article (the article itself is its input), in set order, with
    stories clustered across the whole set as bench.enrich_quality does. With
    ``shared_document``, as the worker's step does: the query document built first, read by
    the story lookup and handed to enrich."""
    taxonomy = load_taxonomy(DEFAULT_TAXONOMY)
    gazetteer = load_gazetteer(DEFAULT_GAZETTEER)
    stories = StoryIndex(story_table("golden", 10**12, lambda: 0))
    records = []
    for name, article in articles():
        doc = article_document(article) if shared_document else None
        story, similarity, _ = stories.assign(article, 0, doc)
        enriched = enrich(article, taxonomy, gazetteer, story_id=story, document=doc)
        data = enriched.model_dump(mode="json")
        del data["article"]
        records.append({"name": name, "story_similarity": similarity, **data})
    return records


@pytest.mark.parametrize("shared_document", [False, True])
def test_enrich_outputs_match_the_golden_file(shared_document: bool) -> None:
    golden = [json.loads(line) for line in GOLDEN.read_text(encoding="utf-8").splitlines()]
    records = enriched_records(shared_document)
    assert [r["name"] for r in records] == [g["name"] for g in golden]
    for record, expected in zip(records, golden, strict=True):
        assert record == expected, record["name"]


if __name__ == "__main__":
    GOLDEN.parent.mkdir(exist_ok=True)
    lines = [json.dumps(r, ensure_ascii=False, sort_keys=True) for r in enriched_records()]
    GOLDEN.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(lines)} records to {GOLDEN}")
