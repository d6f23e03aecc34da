"""The Spanish and Italian language packs (services/enrich/data/lang/es.yaml, it.yaml)."""

import pytest

from services.enrich.entities import Gazetteer
from services.enrich.taxonomy import Taxonomy, tag
from services.query import QueryDocument

USG = "ukraine-security-guarantees"


def topics(taxonomy: Taxonomy, text: str, lang: str, title: str = "") -> set[str]:
    doc = QueryDocument.build(title, body=text, lang=lang)
    return {t.id for t in tag(doc, taxonomy)}


def entities(gazetteer: Gazetteer, text: str, lang: str) -> set[str]:
    return {entity_id for _, _, entity_id in gazetteer.find(text, lang)}


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("es", "Los aliados ofrecen garantías de seguridad a Ucrania tras el alto el fuego."),
        ("es", "Los aliados ofrecen garantias de seguridad a Ucrania."),  # no accent
        ("es", "Zelenski pide una fuerza multinacional para proteger Ucrania."),
        ("it", "Meloni: garanzie di sicurezza per l'Ucraina sul modello dell'articolo 5."),
        ("it", "Il vertice discute la garanzia di sicurezza dell'Ucraina."),  # elided form
        ("it", "La coalizione dei volenterosi prepara una forza di rassicurazione per Kiev."),
    ],
)
def test_security_guarantees_tagged(taxonomy: Taxonomy, lang: str, text: str) -> None:
    assert USG in topics(taxonomy, text, lang)


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        # Guarantees for another country; Ukraine named more than 15 words away.
        (
            "es",
            "Moldavia pide garantías de seguridad a la Unión Europea tras las maniobras "
            "militares rusas en Transnistria. El Gobierno recordó además que el país acoge "
            "desde hace años a decenas de miles de refugiados llegados desde Ucrania.",
        ),
        # Loan guarantees for Ukraine's reconstruction are not security guarantees.
        ("es", "El BEI concede garantías de crédito para reconstruir la red eléctrica de Ucrania."),
        ("it", "Sace, garanzie per 500 milioni alle imprese che ricostruiscono l'Ucraina."),
        # The war without guarantees.
        ("it", "La Russia ha lanciato droni e missili contro l'Ucraina occidentale."),
    ],
)
def test_security_guarantees_hard_negatives(taxonomy: Taxonomy, lang: str, text: str) -> None:
    assert USG not in topics(taxonomy, text, lang)


def test_pack_rules_only_for_their_language(taxonomy: Taxonomy) -> None:
    text = "Los aliados ofrecen garantías de seguridad a Ucrania."
    assert USG in topics(taxonomy, text, "es")
    assert USG not in topics(taxonomy, text, "en")


@pytest.mark.parametrize(
    ("lang", "text", "expected"),
    [
        ("es", "La OTAN pide más gasto", "org:nato"),
        ("es", "Los ministros de la UE", "org:eu"),
        ("es", "El BCE mantiene los tipos", "org:ecb"),
        ("es", "Las Naciones Unidas condenan el ataque", "org:un"),
        ("es", "Volodímir Zelenski", "person:volodymyr-zelensky"),
        ("es", "Volodimir Zelenski", "person:volodymyr-zelensky"),
        ("es", "el presidente ucraniano", "UA"),
        ("es", "fuentes estadounidenses", "US"),
        ("es", "Moscú respondió", "RU"),
        ("it", "gli alleati della Nato", "org:nato"),
        ("it", "la posizione dell'Ue", "org:eu"),
        ("it", "l'Onu", "org:un"),
        ("it", "la Bce", "org:ecb"),
        ("it", "Zelenskyj", "person:volodymyr-zelensky"),
        ("it", "dell'Ucraina", "UA"),
        ("it", "il Cremlino", "RU"),
        ("it", "i soldati britannici", "GB"),
        ("it", "la telefonata con gli Usa", "US"),
        ("es", "EE. UU. y el Reino Unido", "US"),
    ],
)
def test_entity_aliases(gazetteer: Gazetteer, lang: str, text: str, expected: str) -> None:
    assert expected in entities(gazetteer, text, lang)


def test_italian_nato_and_usa_are_not_words(gazetteer: Gazetteer) -> None:
    found = entities(gazetteer, "Il presidente, nato nel 1961, usa spesso i social.", "it")
    assert not found & {"org:nato", "US"}


def test_acronyms_stay_case_sensitive(gazetteer: Gazetteer) -> None:
    # Acronyms of 2-5 capitals are matched as written: "OTAN", not "otan".
    assert "org:nato" not in entities(gazetteer, "otan", "es")


def test_italian_preposition_ai_is_not_artificial_intelligence(taxonomy: Taxonomy) -> None:
    text = "Le emissioni sono diminuite del 40% rispetto ai livelli del 1990."
    assert "artificial-intelligence" not in topics(taxonomy, text, "it")


@pytest.mark.parametrize(
    ("lang", "text"), [("es", "tercera reunión consecutiva"), ("it", "la riunione")]
)
def test_meeting_is_not_reunion_island(gazetteer: Gazetteer, lang: str, text: str) -> None:
    assert "RE" not in entities(gazetteer, text, lang)
