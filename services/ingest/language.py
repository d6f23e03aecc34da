"""Language identification with lingua, offline, restricted to the languages newswire supports.

Restricting the candidates keeps start-up under a second and a call at ~0.3 ms on 500
characters (shared/notes/library-speeds.md: all 75 languages take 7.6 s to load and 1.8 ms a
call). The title and the first 500 characters of text decide.
"""

from functools import lru_cache

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
SAMPLE_CHARS = 500
# Below this confidence the article is flagged language_uncertain (the best guess is kept).
UNCERTAIN_BELOW = 0.5


@lru_cache(maxsize=1)
def detector() -> LanguageDetector:
    return (
        LanguageDetectorBuilder.from_languages(*SUPPORTED).with_preloaded_language_models().build()
    )


def detect(text: str) -> tuple[str | None, float]:
    """(ISO 639-1 code, confidence 0..1), or (None, 0.0) when the text has no letters."""
    sample = text[:SAMPLE_CHARS]
    if not any(ch.isalpha() for ch in sample):
        return None, 0.0
    values = detector().compute_language_confidence_values(sample)
    if not values:
        return None, 0.0
    best = values[0]
    code: IsoCode639_1 = best.language.iso_code_639_1
    return code.name.lower(), round(float(best.value), 4)
