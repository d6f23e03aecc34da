"""Measurements behind docs/work-notes/lang-de-fr.md (issue 10, German and French packs).

    .venv/bin/python docs/work-notes/lang_de_fr_measure.py

1. Topic/entity figures of tests/eval/articles.{de,fr}.yaml split into the development part
   (de001-de018, fr001-fr017: the rules were tuned on them) and the held-out part (de019-de026,
   fr018-fr025: written after the rules were frozen at bfbf36c), through bench.enrich_quality's
   own path (ingest's language detection included).
2. CPU cost of the de/fr packs in topic tagging and entity lookup alone, per de/fr article,
   with the packs and with an empty pack folder (median of 5 runs of 40 passes).
"""

import statistics
import tempfile
import time
from pathlib import Path

import yaml

from bench.enrich_quality import evaluate_set
from services.enrich.entities import Gazetteer, load_gazetteer
from services.enrich.settings import DEFAULT_GAZETTEER, DEFAULT_TAXONOMY
from services.enrich.taxonomy import Taxonomy, load_taxonomy, tag
from services.query import QueryDocument
from services.runtime.local import REPO_ROOT

EVAL = REPO_ROOT / "tests" / "eval"
HELD_OUT_FROM = {"de": 19, "fr": 18}


def split_figures() -> None:
    for lang, first in HELD_OUT_FROM.items():
        data = yaml.safe_load((EVAL / f"articles.{lang}.yaml").read_text(encoding="utf-8"))
        for label, held in (("dev", False), ("held-out", True)):
            items = [a for a in data["articles"] if (int(a["id"][2:]) >= first) == held]
            path = Path(tempfile.mkdtemp()) / f"articles.{lang}.yaml"
            path.write_text(yaml.safe_dump(dict(data, articles=items), allow_unicode=True))
            report = evaluate_set(path)
            micro, usg = report.micro, report.topics["ukraine-security-guarantees"]
            print(
                f"{lang} {label:<8} n={report.articles:2} topic P {micro.precision:.3f} "
                f"R {micro.recall:.3f}  usg P {usg.precision:.2f} R {usg.recall:.2f}  "
                f"entity F1 {report.entities.f1:.3f}  misdetected {report.misdetected}"
            )
            print("   ", ", ".join(report.mistakes) or "no topic mistakes")


def pack_cost() -> None:
    articles = [
        (lang, a["title"], a["summary"], a["body"])
        for lang in HELD_OUT_FROM
        for a in yaml.safe_load((EVAL / f"articles.{lang}.yaml").read_text("utf-8"))["articles"]
    ]
    empty = Path(tempfile.mkdtemp())

    def per_article(taxonomy: Taxonomy, gazetteer: Gazetteer, passes: int = 40) -> float:
        start = time.process_time()
        for _ in range(passes):
            for lang, title, summary, body in articles:
                tag(QueryDocument.build(title, summary, body, lang=lang), taxonomy)
                for text in (title, "\n".join(summary), body):
                    gazetteer.find(text, lang)
        return (time.process_time() - start) / (passes * len(articles)) * 1e6

    with_packs = (load_taxonomy(DEFAULT_TAXONOMY), load_gazetteer(DEFAULT_GAZETTEER))
    without = (load_taxonomy(DEFAULT_TAXONOMY, empty), load_gazetteer(DEFAULT_GAZETTEER, empty))
    runs: dict[str, list[float]] = {"with packs": [], "no packs": []}
    for _ in range(5):
        runs["with packs"].append(per_article(*with_packs))
        runs["no packs"].append(per_article(*without))
    for name, values in runs.items():
        shown = ", ".join(f"{v:.0f}" for v in values)
        print(f"{name:<10} median {statistics.median(values):6.0f} µs CPU/article ({shown})")


if __name__ == "__main__":
    split_figures()
    pack_cost()
