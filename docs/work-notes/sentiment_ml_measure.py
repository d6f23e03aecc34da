"""Accuracy and CPU cost of the multilingual sentiment model (docs/work-notes/sentiment-ml.md).

    .venv/bin/python docs/work-notes/sentiment_ml_measure.py [-v]

Accuracy on tests/eval/sentiment_multilingual.yaml (development: written before any model)
and sentiment_multilingual_heldout.yaml (written after the news supplements), for the
lexicons as shipped and with the news supplements; then CPU per article of ``document``
(headline + summary) per language, three runs, and of a whole ``enrich`` of a news-length
German and English article with VaderModel and with MultilingualModel.
"""

import resource
import sys
import time
from pathlib import Path

import yaml

from services.enrich import sentiment
from services.enrich.entities import load_gazetteer
from services.enrich.settings import DEFAULT_GAZETTEER, DEFAULT_TAXONOMY
from services.enrich.step import enrich
from services.enrich.taxonomy import load_taxonomy
from services.ingest.normalize import single_article
from tests.helpers import raw_event

EVAL = Path("tests/eval/sentiment_multilingual.yaml")
HELDOUT = Path("tests/eval/sentiment_multilingual_heldout.yaml")
VERBOSE = "-v" in sys.argv

DE = (
    "Schwere Angriffe auf Kiew: Selenskyj fordert mehr Luftabwehr\n2025-03-01 09:00- "
    "Bei nächtlichen Angriffen auf Kiew wurden nach Angaben der Behörden mindestens zwölf "
    "Menschen getötet und Dutzende verletzt. Präsident Selenskyj verurteilte die Angriffe und "
    "forderte von der NATO zusätzliche Systeme zur Luftabwehr. Bundeskanzler Merz sagte weitere "
    "Hilfe zu, Frankreich kündigte ein Treffen der Verteidigungsminister in Paris an. Putin "
    "äußerte sich zunächst nicht. Die Europäische Union will am Montag über neue Sanktionen "
    "gegen Russland beraten. Rettungskräfte suchten bis in die Nacht in den Trümmern nach "
    "Überlebenden.\n"
)
EN = (
    "Heavy strikes on Kyiv: Zelensky calls for more air defence\n2025-03-01 09:00- "
    "Overnight attacks on Kyiv killed at least twelve people and injured dozens, the "
    "authorities said. President Zelensky condemned the attacks and asked NATO for additional "
    "air defence systems. Chancellor Merz promised more aid, and France announced a meeting of "
    "defence ministers in Paris. Putin did not comment at first. The European Union will "
    "discuss new sanctions on Russia on Monday. Rescue workers searched the rubble for "
    "survivors into the night.\n"
)


def accuracy(model: sentiment.SentimentModel, items: list[dict[str, object]]) -> str:
    right = 0
    for item in items:
        summary = [str(s) for s in item["summary"]]  # type: ignore[attr-defined]
        value = round(model.document(str(item["title"]), summary), 4)
        ok = sentiment.label(value) == item["gold"]
        right += ok
        if VERBOSE and not ok:
            print(f"    miss {item['id']} gold {item['gold']} score {value}: {item['title']}")
    return f"{right}/{len(items)} = {right / len(items):.3f}"


def main() -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.process_time()
    model = sentiment.MultilingualModel()
    rss = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    print(f"MultilingualModel(): {time.process_time() - start:.3f} s CPU, max RSS +{rss:.1f} MiB")
    for path in (EVAL, HELDOUT):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))["languages"]
        print(path)
        for language, items in data.items():
            chosen = model.for_language(language)
            if chosen is None:
                print(f"  {language}: no model (reliable=false)")
                continue
            if isinstance(chosen, sentiment.LexiconModel):
                shipped = sentiment.LexiconModel.for_language(language, news=False)
                print(f"  {language} {shipped.name}: {accuracy(shipped, items)}")
            print(f"  {language} {chosen.name}: {accuracy(chosen, items)}")

    data = yaml.safe_load(EVAL.read_text(encoding="utf-8"))["languages"]
    for run in range(1, 4):
        parts = []
        for language in ("en", "de", "fr"):
            chosen = model.for_language(language)
            assert chosen is not None
            items = data[language]
            reps = 400
            start = time.process_time()
            for _ in range(reps):
                for item in items:
                    chosen.document(item["title"], item["summary"])
            parts.append(
                f"{language} {(time.process_time() - start) / reps / len(items) * 1e6:.1f}"
            )
        print(f"document() run {run}, µs CPU per article: " + ", ".join(parts))

    taxonomy = load_taxonomy(DEFAULT_TAXONOMY)
    gazetteer = load_gazetteer(DEFAULT_GAZETTEER)
    vader = sentiment.VaderModel()
    for run in range(1, 4):
        parts = []
        for name, text in (("en", EN), ("de", DE)):
            article = single_article(raw_event(text))
            for label, chosen_model in (("vader", vader), ("multilingual", model)):
                enrich(article, taxonomy, gazetteer, chosen_model)
                n = 1000
                start = time.process_time()
                for _ in range(n):
                    enrich(article, taxonomy, gazetteer, chosen_model)
                parts.append(f"{name}/{label} {(time.process_time() - start) / n * 1e6:.0f}")
        print(f"enrich() run {run}, µs CPU per article: " + ", ".join(parts))


if __name__ == "__main__":
    main()
