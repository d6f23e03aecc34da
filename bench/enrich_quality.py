"""Accuracy of enrich on the labelled set in tests/eval/articles.yaml.

    python -m bench.enrich_quality

Each article goes through ingest's JSON path and enrich (with story clustering across the set,
in order), then is compared with its gold labels: per-topic precision, recall and F1 (macro
over topics), entity precision and recall (micro, over the ids of the gold lists), sentiment
accuracy and confusion matrix, and pairwise precision/recall of story clustering. Sentiment is
also measured on tests/eval/sentiment_heldout.yaml, a set not used for tuning the model, so
that overfitting to articles.yaml shows. Writes bench/results/enrich_quality.json.
tests/unit/test_enrich_quality.py asserts floors.

Issue 10: each tests/eval/articles.<code>.yaml is a set in another language, run through the
same path (ingest detects its language). Per language it prints topic precision and recall
(micro: over every (article, topic) pair), ukraine-security-guarantees precision and recall,
entity F1 and sentiment accuracy, next to English's, with the targets (within 0.05 of English;
ukraine-security-guarantees 0.9 / 0.9).
"""

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import combinations
from pathlib import Path
from typing import Any

import yaml

from schemas.raw import RawArticleEvent
from services.enrich import sentiment
from services.enrich.entities import load_gazetteer
from services.enrich.settings import DEFAULT_GAZETTEER, DEFAULT_TAXONOMY
from services.enrich.step import default_model, enrich
from services.enrich.stories import StoryIndex, story_table
from services.enrich.taxonomy import load_taxonomy
from services.ingest.normalize import single_article
from services.runtime.local import REPO_ROOT

EVAL_SET = REPO_ROOT / "tests" / "eval" / "articles.yaml"
SENTIMENT_HELDOUT = REPO_ROOT / "tests" / "eval" / "sentiment_heldout.yaml"
LABELS = ("negative", "neutral", "positive")
RESULTS = REPO_ROOT / "bench" / "results"
FETCHED = datetime(2025, 3, 10, tzinfo=UTC)


@dataclass
class PRF:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class Confusion:
    """Sentiment labels, gold against predicted."""

    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    mistakes: list[str] = field(default_factory=list)

    def add(self, item_id: str, gold: str, predicted: str, score: float) -> None:
        self.counts[gold, predicted] += 1
        if gold != predicted:
            self.mistakes.append(f"{item_id} {gold}->{predicted} ({score:+.2f})")

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def accuracy(self) -> float:
        correct = sum(self.counts[label, label] for label in LABELS)
        return correct / self.total if self.total else 0.0

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {g: {p: self.counts[g, p] for p in LABELS} for g in LABELS}

    def table(self) -> str:
        lines = ["gold \\ predicted " + "".join(f"{p:>10}" for p in LABELS)]
        for g in LABELS:
            lines.append(f"{g:<18}" + "".join(f"{self.counts[g, p]:>10}" for p in LABELS))
        return "\n".join(lines)


def raw_event(item: dict[str, Any]) -> RawArticleEvent:
    payload = json.dumps(
        {
            "title": item["title"],
            "summary": item.get("summary") or [],
            "body": item["body"],
            "url": f"https://eval.example/{item['id']}",
        }
    )
    return RawArticleEvent(
        source="eval", fetched_at=FETCHED, content_type="application/json", payload=payload
    )


def evaluate_sentiment(path: Path = SENTIMENT_HELDOUT) -> Confusion:
    """Document sentiment alone (no topics, entities or stories) on a sentiment-only set."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    model = default_model()
    confusion = Confusion()
    for item in data["articles"]:
        tone = sentiment.score(single_article(raw_event(item)), model)
        confusion.add(item["id"], item["gold"]["sentiment"], tone.label, tone.score)
    return confusion


@dataclass
class Report:
    articles: int = 0
    topics: dict[str, PRF] = field(default_factory=dict)
    entities: PRF = field(default_factory=PRF)
    sentiment_correct: int = 0
    stories: PRF = field(default_factory=PRF)
    mistakes: list[str] = field(default_factory=list)
    sentiment: Confusion = field(default_factory=Confusion)
    # Articles whose detected language is not the set's (language sets only).
    misdetected: list[str] = field(default_factory=list)

    @property
    def micro(self) -> PRF:
        return PRF(
            sum(t.tp for t in self.topics.values()),
            sum(t.fp for t in self.topics.values()),
            sum(t.fn for t in self.topics.values()),
        )

    @property
    def macro_f1(self) -> float:
        return sum(t.f1 for t in self.topics.values()) / len(self.topics) if self.topics else 0.0

    @property
    def sentiment_accuracy(self) -> float:
        return self.sentiment_correct / self.articles if self.articles else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "articles": self.articles,
            "topic_macro_f1": round(self.macro_f1, 4),
            "topic_micro_precision": round(self.micro.precision, 4),
            "topic_micro_recall": round(self.micro.recall, 4),
            "topics": {
                k: {
                    "precision": round(v.precision, 3),
                    "recall": round(v.recall, 3),
                    "f1": round(v.f1, 3),
                    "tp": v.tp,
                    "fp": v.fp,
                    "fn": v.fn,
                }
                for k, v in sorted(self.topics.items())
            },
            "entity_precision": round(self.entities.precision, 4),
            "entity_recall": round(self.entities.recall, 4),
            "entity_f1": round(self.entities.f1, 4),
            "sentiment_accuracy": round(self.sentiment_accuracy, 4),
            "sentiment_confusion": self.sentiment.as_dict(),
            "story_pair_precision": round(self.stories.precision, 4),
            "story_pair_recall": round(self.stories.recall, 4),
            "misdetected_language": self.misdetected,
        }


def evaluate_set(path: Path = EVAL_SET) -> Report:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    taxonomy = load_taxonomy(DEFAULT_TAXONOMY)
    gazetteer = load_gazetteer(DEFAULT_GAZETTEER)
    stories = StoryIndex(story_table("eval", 10**12, lambda: 0))
    report = Report()
    for topic in taxonomy.topics:
        report.topics[topic.spec.id] = PRF()
    predicted_story: dict[str, str] = {}
    gold_story: dict[str, str] = {}
    language = data.get("language")
    for item in data["articles"]:
        article = single_article(raw_event(item))
        if language and article.language != language:
            report.misdetected.append(f"{item['id']}:{article.language}")
        story, _, _ = stories.assign(article, 0)
        enriched = enrich(article, taxonomy, gazetteer, story_id=story)
        report.articles += 1
        gold = item["gold"]
        got_topics = {t.id for t in enriched.topics}
        want_topics = set(gold["topics"])
        for topic_id, prf in report.topics.items():
            if topic_id in got_topics and topic_id in want_topics:
                prf.tp += 1
            elif topic_id in got_topics:
                prf.fp += 1
                report.mistakes.append(f"{item['id']} +{topic_id}")
            elif topic_id in want_topics:
                prf.fn += 1
                report.mistakes.append(f"{item['id']} -{topic_id}")
        got_entities = {e.id for e in enriched.entities}
        want_entities = set(gold["entities"])
        report.entities.tp += len(got_entities & want_entities)
        report.entities.fp += len(got_entities - want_entities)
        report.entities.fn += len(want_entities - got_entities)
        if enriched.sentiment.label == gold["sentiment"]:
            report.sentiment_correct += 1
        report.sentiment.add(
            item["id"], gold["sentiment"], enriched.sentiment.label, enriched.sentiment.score
        )
        predicted_story[item["id"]] = story
        gold_story[item["id"]] = str(item["story"])
    for a, b in combinations(sorted(predicted_story), 2):
        same_pred = predicted_story[a] == predicted_story[b]
        same_gold = gold_story[a] == gold_story[b]
        if same_pred and same_gold:
            report.stories.tp += 1
        elif same_pred:
            report.stories.fp += 1
        elif same_gold:
            report.stories.fn += 1
    # Topics with no gold positive and no prediction say nothing; leave them out of the mean.
    report.topics = {k: v for k, v in report.topics.items() if v.tp + v.fp + v.fn}
    return report


def language_sets() -> dict[str, Path]:
    """tests/eval/articles.<code>.yaml by language code."""
    folder = EVAL_SET.parent
    return {p.name.split(".")[1]: p for p in sorted(folder.glob("articles.*.yaml"))}


def per_language(english: Report) -> dict[str, dict[str, Any]]:
    """Each language set's figures, and whether each meets issue 10's targets."""
    base = english.as_dict()
    out: dict[str, dict[str, Any]] = {}
    for code, path in language_sets().items():
        report = evaluate_set(path)
        d = report.as_dict()
        d["topic_mistakes"] = report.mistakes
        usg = d["topics"].get("ukraine-security-guarantees", {})
        d["targets_met"] = {
            "topic_precision": d["topic_micro_precision"] >= base["topic_micro_precision"] - 0.05,
            "topic_recall": d["topic_micro_recall"] >= base["topic_micro_recall"] - 0.05,
            "entity_f1": d["entity_f1"] >= base["entity_f1"] - 0.05,
            "usg_precision": usg.get("precision", 0) >= 0.9,
            "usg_recall": usg.get("recall", 0) >= 0.9,
        }
        out[code] = d
    return out


def print_languages(english: dict[str, Any], languages: dict[str, dict[str, Any]]) -> None:
    print("\nby language (topic P/R micro; targets: within 0.05 of en, usg P/R >= 0.90)")
    print(
        f"{'lang':<5}{'n':>4} {'topic P':>8} {'topic R':>8} {'usg P':>6} {'usg R':>6} "
        f"{'ent F1':>7} {'sent':>6}  misdetected / mistakes"
    )
    for code, d in {"en": english, **languages}.items():
        usg = d["topics"].get("ukraine-security-guarantees", {})
        met = d.get("targets_met", {})
        missed = [k for k, v in met.items() if not v]
        flag = "  ✘ " + ",".join(missed) if missed else ""
        print(
            f"{code:<5}{d['articles']:>4} {d['topic_micro_precision']:>8.3f} "
            f"{d['topic_micro_recall']:>8.3f} {usg.get('precision', 0):>6.2f} "
            f"{usg.get('recall', 0):>6.2f} {d['entity_f1']:>7.3f} "
            f"{d['sentiment_accuracy']:>6.3f}  {' '.join(d['misdetected_language'])}{flag}"
        )


def main() -> None:
    report = evaluate_set()
    heldout = evaluate_sentiment()
    d = report.as_dict()
    d["sentiment_heldout_accuracy"] = round(heldout.accuracy, 4)
    d["sentiment_heldout_confusion"] = heldout.as_dict()
    print(f"{d['articles']} labelled articles (tests/eval/articles.yaml)\n")
    print(f"{'topic':<30} {'P':>5} {'R':>5} {'F1':>5}  tp fp fn")
    for name, t in d["topics"].items():
        print(
            f"{name:<30} {t['precision']:>5.2f} {t['recall']:>5.2f} {t['f1']:>5.2f} "
            f"{t['tp']:>3} {t['fp']:>2} {t['fn']:>2}"
        )
    print(f"\ntopic macro F1        {d['topic_macro_f1']:.3f}   (target 0.90)")
    usg = d["topics"].get("ukraine-security-guarantees", {})
    print(
        f"ukraine-security-guarantees P {usg.get('precision', 0):.2f} R {usg.get('recall', 0):.2f}"
        "   (target 0.95 / 0.95)"
    )
    print(
        f"entities P {d['entity_precision']:.3f} R {d['entity_recall']:.3f} "
        f"F1 {d['entity_f1']:.3f}   (target F1 0.90)"
    )
    print(f"sentiment accuracy    {d['sentiment_accuracy']:.3f}   (target 0.75)")
    print(
        f"sentiment accuracy, held out {d['sentiment_heldout_accuracy']:.3f} "
        f"({heldout.total} items, tests/eval/sentiment_heldout.yaml)"
    )
    print(f"stories pairwise P {d['story_pair_precision']:.3f} R {d['story_pair_recall']:.3f}")
    counts = Counter(m[0:4] for m in report.mistakes)
    print(
        f"\n{len(report.mistakes)} topic mistakes (+ false tag, - missed): "
        + ", ".join(report.mistakes[:40])
        + (" …" if len(report.mistakes) > 40 else "")
    )
    del counts
    for name, confusion in (("articles.yaml", report.sentiment), ("held out", heldout)):
        print(f"\nsentiment, {name}: {confusion.accuracy:.3f}\n{confusion.table()}")
        print(f"{len(confusion.mistakes)} wrong: " + ", ".join(confusion.mistakes))
    languages = per_language(report)
    for code, found in languages.items():
        print(f"{code} topic mistakes: " + (", ".join(found["topic_mistakes"]) or "none"))
    print_languages(d, languages)
    d["languages"] = languages
    RESULTS.mkdir(parents=True, exist_ok=True)
    d["measured_at"] = datetime.now(UTC).isoformat()
    (RESULTS / "enrich_quality.json").write_text(json.dumps(d, indent=2) + "\n")


if __name__ == "__main__":
    main()
