"""Entity matching: aliases to one id, acronyms case-aware, word-bounded, longest wins."""

from pathlib import Path

import pytest

from services.enrich.entities import load_gazetteer
from services.enrich.settings import DEFAULT_GAZETTEER
from services.ingest.normalize import single_article
from tests.helpers import raw_event, seed_text

GAZETTEER = load_gazetteer(DEFAULT_GAZETTEER)


def ids(text: str) -> list[str]:
    return [entity_id for _, _, entity_id in GAZETTEER.find(text)]


class TestFind:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("Keir Starmer met Sir Keir Starmer; Starmer left.", ["person:keir-starmer"] * 3),
            ("U.S. and the United States and America", ["US", "US", "US"]),
            ("Ukrainian and Ukraine's troops", ["UA", "UA"]),
            ("Zelenskyy, Zelensky, Selenskyj and Зеленський", ["person:volodymyr-zelensky"] * 4),
            ("NATO and the EU at the UN", ["org:nato", "org:eu", "org:un"]),
            ("South Korea", ["KR"]),
        ],
    )
    def test_aliases_resolve_to_one_id(self, text: str, expected: list[str]) -> None:
        assert ids(text) == expected

    def test_acronyms_are_case_sensitive(self) -> None:
        assert ids("let us go; un-wise; eu") == []
        assert ids("the US and the UN") == ["US", "org:un"]

    def test_word_boundaries(self) -> None:
        assert ids("Ukraine") == ["UA"]
        assert ids("UKraine") == ["UA"]  # not GB: "UK" inside a word does not count
        assert ids("Russiagate") == []

    def test_longest_match_wins(self) -> None:
        assert ids("Sir Keir Starmer") == ["person:keir-starmer"]
        assert ids("European Central Bank") == ["org:ecb"]


class TestMentions:
    def test_seed_article(self) -> None:
        mentions = {
            m.id: m
            for m in GAZETTEER.mentions(GAZETTEER.locate(single_article(raw_event(seed_text()))))
        }
        assert {
            "UA",
            "US",
            "GB",
            "RU",
            "person:keir-starmer",
            "person:donald-trump",
            "org:nato",
        } <= mentions.keys()
        starmer = mentions["person:keir-starmer"]
        assert starmer.kind == "person"
        assert starmer.fields["title"] == 1
        assert starmer.mentions == sum(starmer.fields.values())
        ranked = list(mentions)
        assert ranked[0] == "UA"  # the most mentioned comes first

    def test_every_country_from_pycountry(self) -> None:
        assert len([e for e in GAZETTEER.entities.values() if e.kind == "country"]) >= 249
        assert ids("Mongolia and Chile") == ["MN", "CL"]


class TestGazetteerFile:
    def test_norway_is_a_country_not_a_boolean(self) -> None:
        assert ids("Norway and Oslo") == ["NO", "NO"]

    def test_unknown_or_unquoted_country_keys_fail_at_load(self, tmp_path: Path) -> None:
        path = tmp_path / "g.yaml"
        path.write_text("countries:\n  NO: [Norway]\n")
        with pytest.raises(ValueError, match="quote it"):
            load_gazetteer(path)
