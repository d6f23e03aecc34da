"""The German and French language packs (services/enrich/data/lang/de.yaml, fr.yaml) and their
eval sets (tests/eval/articles.de.yaml, articles.fr.yaml): pointed cases for issue 10."""

from pathlib import Path

import pytest
import yaml

from bench.enrich_quality import evaluate_set
from services.enrich.entities import Gazetteer
from services.enrich.languages import load_packs
from services.enrich.settings import DEFAULT_TAXONOMY
from services.enrich.taxonomy import Taxonomy, tag
from services.query import QueryDocument
from services.runtime.local import REPO_ROOT

USG = "ukraine-security-guarantees"
EVAL = REPO_ROOT / "tests" / "eval"


def topics(taxonomy: Taxonomy, lang: str, title: str, body: str = "") -> set[str]:
    return {t.id for t in tag(QueryDocument.build(title, body=body, lang=lang), taxonomy)}


def entity_ids(gazetteer: Gazetteer, text: str, lang: str) -> list[str]:
    return [e for _, _, e in gazetteer.find(text, lang)]


@pytest.mark.parametrize("lang", ["de", "fr"])
def test_every_taxonomy_topic_has_a_rule(lang: str) -> None:
    taxonomy = yaml.safe_load(DEFAULT_TAXONOMY.read_text(encoding="utf-8"))
    pack = load_packs(DEFAULT_TAXONOMY.parent / "lang")[lang]
    assert set(pack.topics) == {t["id"] for t in taxonomy["topics"]}


class TestGerman:
    def test_compound_found_by_its_prefix(self, taxonomy: Taxonomy) -> None:
        tags = tag(
            QueryDocument.build("Kanzler sagt Kiew Sicherheitsgarantien zu", lang="de"), taxonomy
        )
        usg = next(t for t in tags if t.id == USG)
        assert "Sicherheitsgarantien" in {e.text for e in usg.evidence}

    def test_compounds_whose_key_part_is_the_tail(self, taxonomy: Taxonomy) -> None:
        assert "tariffs" in topics(taxonomy, "de", "China verhängt Strafzölle auf Schweinefleisch")
        assert "labour-strikes" in topics(taxonomy, "de", "Verdi ruft zu Warnstreiks auf")
        assert "elections" in topics(taxonomy, "de", "Stichwahl in Rumänien")
        # A hunger strike is no industrial action; Streik* does not reach into the compound.
        hunger = "Aktivist seit Wochen im Hungerstreik"
        assert "labour-strikes" not in topics(taxonomy, "de", hunger)

    def test_moldova_guarantees_with_ukraine_far_away(self, taxonomy: Taxonomy) -> None:
        body = (
            "Die Republik Moldau hat die Europäische Union um verbindliche Sicherheitszusagen "
            "gebeten. Präsidentin Sandu sagte in Brüssel, ihr Land sei seit Jahren Ziel russischer "
            "Desinformation, es verfüge nur über eine kleine Armee und brauche Partner, die im "
            "Ernstfall beistehen. Diplomaten verwiesen auf den Krieg im Nachbarland Ukraine."
        )
        assert USG not in topics(taxonomy, "de", "Moldau bittet die EU um Sicherheitszusagen", body)

    def test_ukraine_war_without_guarantees(self, taxonomy: Taxonomy) -> None:
        found = topics(
            taxonomy,
            "de",
            "Russische Drohnen legen Stromversorgung in Charkiw lahm",
            "Russland griff die Ukraine mit 120 Drohnen an, drei Menschen wurden getötet.",
        )
        assert "russia-ukraine-war" in found
        assert USG not in found

    def test_aliases(self, gazetteer: Gazetteer) -> None:
        text = "Selenskyjs Appell an die Nato, die EZB und den Kreml"
        assert entity_ids(gazetteer, text, "de") == [
            "person:volodymyr-zelensky",
            "org:nato",
            "org:ecb",
            "RU",
        ]
        # An EU institution's name is the EU, not Europe.
        assert entity_ids(gazetteer, "im Europaparlament", "de") == ["org:eu"]
        assert entity_ids(gazetteer, "die Europäische Zentralbank", "de") == ["org:ecb"]


class TestFrench:
    @pytest.mark.parametrize(
        "title",
        [
            "Des garanties de sécurité pour l'Ukraine",
            "Des garanties de securite pour l’Ukraine",  # no accents, typographic apostrophe
            "Kiev réclame une garantie de sécurité",
            "Zelensky veut une force de réassurance",
        ],
    )
    def test_guarantees(self, taxonomy: Taxonomy, title: str) -> None:
        assert USG in topics(taxonomy, "fr", title)

    def test_moldova_guarantees_with_ukraine_far_away(self, taxonomy: Taxonomy) -> None:
        body = (
            "La présidente moldave Maia Sandu a demandé mardi à Bruxelles des garanties de "
            "sécurité à l'Union européenne, à l'ouverture des négociations d'adhésion de son pays. "
            "La Moldavie accueille toujours quelque 1 500 soldats russes en Transnistrie et dit "
            "faire face à des campagnes de désinformation. Le dossier de l'Ukraine avance moins "
            "vite."
        )
        title = "La Moldavie réclame des garanties de sécurité"
        assert USG not in topics(taxonomy, "fr", title, body)

    def test_elided_words_in_phrases(self, taxonomy: Taxonomy) -> None:
        # Documents are split at apostrophes; a phrase writes the elided article as a word.
        assert "inflation-cost-of-living" in topics(taxonomy, "fr", "Le pouvoir d'achat recule")
        assert "diplomacy-summits" in topics(
            taxonomy, "fr", "Le président américain en visite d'État chez le roi"
        )

    def test_mais_is_not_maize(self, taxonomy: Taxonomy) -> None:
        assert "agriculture-food" not in topics(taxonomy, "fr", "Il a promis, mais rien n'a changé")
        assert "agriculture-food" in topics(taxonomy, "fr", "La récolte de maïs recule")

    def test_oil_price_cap_is_sanctions_news(self, taxonomy: Taxonomy) -> None:
        found = topics(
            taxonomy,
            "fr",
            "L'UE adopte de nouvelles sanctions contre la Russie",
            "La flotte fantôme contourne le plafonnement du prix du pétrole russe.",
        )
        assert "sanctions-on-russia" in found
        assert "energy-markets" not in found

    def test_aliases(self, gazetteer: Gazetteer) -> None:
        text = "Poutine met en garde l'OTAN, l'UE et l'ONU ; la BCE attend"
        assert entity_ids(gazetteer, text, "fr") == [
            "person:vladimir-putin",
            "org:nato",
            "org:eu",
            "org:un",
            "org:ecb",
        ]
        assert entity_ids(gazetteer, "la Russie et les États-Unis", "fr") == ["RU", "US"]
        assert entity_ids(gazetteer, "la Commission européenne", "fr") == ["org:eu"]
        # Acronyms are case-sensitive: "ue" is no Union.
        assert entity_ids(gazetteer, "OTAN", "fr") == ["org:nato"]
        assert entity_ids(gazetteer, "ue", "fr") == []
        # pycountry's French names that are ordinary words or first names are not looked for.
        assert entity_ids(gazetteer, "la réunion de juillet, Maurice et Dominique", "fr") == []
        assert entity_ids(gazetteer, "à l'île de la Réunion", "fr") == ["RE"]


@pytest.mark.parametrize("lang", ["de", "fr"])
def test_eval_set_shape_and_guarantees_targets(lang: str) -> None:
    path: Path = EVAL / f"articles.{lang}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    articles = data["articles"]
    assert data["language"] == lang
    assert len(articles) >= 10
    assert sum(USG in a["gold"]["topics"] for a in articles) >= 3
    stories = [a["story"] for a in articles]
    assert any(stories.count(s) >= 2 for s in stories)
    report = evaluate_set(path)
    assert not report.misdetected
    usg = report.topics[USG]
    assert usg.precision >= 0.9
    assert usg.recall >= 0.9
