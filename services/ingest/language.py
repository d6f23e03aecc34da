"""Language identification with lingua, offline, restricted to the languages newswire supports.

Restricting the candidates keeps start-up under a second (shared/notes/library-speeds.md: all
75 languages take 7.6 s to load and 1.8 ms a call). The main text decides, as for a page with
a headline in one language over a text in another: its first 72 characters, accepted when
lingua is at least 99 % sure, else its first 200. lingua's cost grows with the sample (~0.4 µs
a character in the ingest worker, where its models are seldom in the CPU cache). Measured on
tests/eval/languages.yaml (100 passages, 10 per language) and the 273 eval articles in eight
languages: 361 of 373 are decided on 72 characters, every one correctly (the others on 200,
also correctly); at 64 characters an
English text opening with "Deutsche Bahn and the GDL" is taken, confidently, for German.
lingua's low-accuracy mode (trigram models only) is the default: it holds 32 MiB where high
accuracy holds 343 MiB (measured here), and lingua's authors place its losses on texts under
~120 characters. NEWSWIRE_LANGUAGE_ACCURACY=high switches.
"""

import re
from functools import lru_cache
from typing import Literal

from lingua import IsoCode639_1, Language, LanguageDetector, LanguageDetectorBuilder

SUPPORTED = (
    Language.ENGLISH,
    Language.GERMAN,
    Language.FRENCH,
    Language.SPANISH,
    Language.ITALIAN,
    Language.POLISH,
    Language.UKRAINIAN,
    Language.RUSSIAN,
    Language.DUTCH,
    Language.PORTUGUESE,
)
QUICK_CHARS = 72
# 0.95 let a Spanish summary opening with "Sandu se reúne en Bruselas con los líderes de la UE"
# through as German (0.965); at 0.99, 12 of 373 eval texts take the 200-character sample.
CONFIDENT = 0.99
SAMPLE_CHARS = 200
# Below this confidence the article is flagged language_uncertain (the best guess is kept).
UNCERTAIN_BELOW = 0.5
_LETTER = re.compile(r"[^\W\d_]")


Accuracy = Literal["low", "high"]


@lru_cache(maxsize=2)
def detector(accuracy: Accuracy = "low") -> LanguageDetector:
    builder = LanguageDetectorBuilder.from_languages(*SUPPORTED).with_preloaded_language_models()
    if accuracy == "low":
        builder = builder.with_low_accuracy_mode()
    return builder.build()


def detect_main_text(text: str, accuracy: Accuracy = "low") -> tuple[str | None, float]:
    """Two stages: the start of the text, then a longer sample if lingua is unsure."""
    if len(text) > QUICK_CHARS:
        quick = detect(text[:QUICK_CHARS], accuracy)
        if quick[0] is not None and quick[1] >= CONFIDENT:
            return quick
    return detect(text[:SAMPLE_CHARS], accuracy)


def detect(text: str, accuracy: Accuracy = "low") -> tuple[str | None, float]:
    """(ISO 639-1 code, confidence 0..1), or (None, 0.0) when the text has no letters."""
    sample = text[:SAMPLE_CHARS]
    if not _LETTER.search(sample):
        return None, 0.0
    values = detector(accuracy).compute_language_confidence_values(sample)
    if not values:
        return None, 0.0
    best = values[0]
    code: IsoCode639_1 = best.language.iso_code_639_1
    return code.name.lower(), round(float(best.value), 4)
