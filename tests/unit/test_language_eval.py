"""Language identification on tests/eval/languages.yaml: 10 passages per supported language."""

from pathlib import Path

import pytest
import yaml

from services.ingest import language

PASSAGES: dict[str, list[str]] = yaml.safe_load(
    (Path(__file__).parents[1] / "eval" / "languages.yaml").read_text(encoding="utf-8")
)


def test_every_supported_language_has_passages() -> None:
    supported = {lang.iso_code_639_1.name.lower() for lang in language.SUPPORTED}
    assert set(PASSAGES) == supported
    assert all(len(texts) >= 10 for texts in PASSAGES.values())


@pytest.mark.parametrize(
    ("expected", "text"), [(lang, text) for lang, texts in PASSAGES.items() for text in texts]
)
def test_passage_language(expected: str, text: str) -> None:
    detected, confidence = language.detect_main_text(text)
    assert detected == expected
    assert confidence >= language.UNCERTAIN_BELOW


def test_foreign_names_at_the_start_do_not_decide_the_quick_sample() -> None:
    # At 64 characters lingua is 99.96 % sure this is German; the quick sample must be longer.
    text = (
        "Deutsche Bahn and the GDL train drivers' union reached a pay agreement on Friday, "
        "ending months of strikes that disrupted travel across the country."
    )
    assert language.detect_main_text(text)[0] == "en"
