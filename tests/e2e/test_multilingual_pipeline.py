"""Issue 10 end to end: news in German, French and Ukrainian reaches a subscriber of the
topic "Ukraine security guarantees", through the three workers on the real broker."""

import json
from pathlib import Path

import pytest

from schemas import topics
from schemas.alert import Alert
from schemas.raw import RawArticleEvent
from services.ingest.normalize import single_article
from services.notify.seed import load_seed
from services.runtime.io import produce_raw, read_topic
from services.runtime.settings import KafkaSettings, RuntimeSettings
from tests.e2e.conftest import Spawn
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e

SUBSCRIPTIONS = """
subscriptions:
  - id: sub-usg
    name: Ukraine security guarantees, any language
    topics: [ukraine-security-guarantees]
  - id: sub-usg-german
    name: The same, German only
    topics: [ukraine-security-guarantees]
    query: lang:de
  - id: sub-sicherheitsgarantien
    name: A German compound as free text
    query: sicherheitsgarantie*
"""

ARTICLES = {
    "de": (
        "Berlin und Paris beraten über Sicherheitsgarantien für die Ukraine",
        "Bundeskanzler und französischer Präsident trafen sich am Montag in Berlin, um über "
        "Sicherheitsgarantien für die Ukraine nach einem möglichen Waffenstillstand zu beraten. "
        "Die Regierungen wollen eine multinationale Truppe unterstützen, die Kiew vor einem "
        "erneuten russischen Angriff schützen soll. Präsident Selenskyj begrüßte die Gespräche "
        "und forderte verbindliche Zusagen der Verbündeten.",
    ),
    "fr": (
        "Londres et Paris précisent les garanties de sécurité pour l'Ukraine",
        "Le Royaume-Uni et la France ont présenté jeudi un plan de garanties de sécurité pour "
        "l'Ukraine, qui prévoit une force de réassurance déployée après un cessez-le-feu. "
        "Volodymyr Zelensky a salué une étape importante, tout en demandant un engagement "
        "clair des États-Unis. Les ministres de la Défense se réuniront la semaine prochaine "
        "à Kiev pour arrêter les détails.",
    ),
    "uk": (
        "Союзники обговорили гарантії безпеки для України",
        "Міністри оборони країн НАТО у вівторок обговорили гарантії безпеки для України після "
        "припинення вогню. Президент Зеленський заявив, що Київ очікує юридично зобов'язуючих "
        "гарантій, а не лише політичних заяв. Велика Британія та Франція готові очолити "
        "багатонаціональні сили стримування.",
    ),
    # A hard negative: guarantees for Moldova; Ukraine is only its neighbour.
    "de-negative": (
        "Moldau verlangt Sicherheitsgarantien von der EU",
        "Die Regierung in Chișinău hat die Europäische Union am Mittwoch um "
        "Sicherheitsgarantien gebeten. Moldau fürchtet eine Destabilisierung durch prorussische "
        "Gruppen in Transnistrien. Die Außenministerin betonte, das Land sei auf Energiehilfe "
        "angewiesen und wolle den Beitritt zur Union beschleunigen. Das Nachbarland wird in "
        "der Erklärung nur am Rande erwähnt; in Brüssel wird über ein Hilfspaket im Herbst "
        "beraten, über die Ukraine soll erst später gesprochen werden.",
    ),
}


def event(key: str, title: str, body: str) -> RawArticleEvent:
    payload = {"title": title, "body": body, "url": f"https://e2e.example/{key}"}
    return RawArticleEvent(
        source="e2e-multilingual",
        fetched_at="2026-12-04T10:00:00Z",  # type: ignore[arg-type]
        content_type="application/json",
        payload=json.dumps(payload, ensure_ascii=False),
    )


async def test_articles_in_other_languages_alert_topic_subscribers(
    kafka_bootstrap: str, topic_prefix: str, spawn: Spawn, tmp_path: Path
) -> None:
    seed = tmp_path / "subscriptions.yaml"
    seed.write_text(SUBSCRIPTIONS, encoding="utf-8")
    settings = RuntimeSettings(
        kafka=KafkaSettings(bootstrap=kafka_bootstrap), topic_prefix=topic_prefix
    )
    await load_seed(settings, seed, owner="e2e")
    workers = [spawn("ingest"), spawn("enrich"), spawn("notify")]
    for w in workers:
        await w.wait_ready()
    events = {key: event(key, *text) for key, text in ARTICLES.items()}
    await produce_raw(settings.kafka, topic_prefix + "news.raw", list(events.values()))

    async def notify_saw_everything() -> bool:
        return await workers[2].metric("newswire_records_consumed_total") >= len(events)

    await wait_until(notify_saw_everything, 60, "notify to consume every enriched article")
    alerts = [
        Alert.model_validate_json(r.value)
        async for r in read_topic(
            kafka_bootstrap, topic_prefix + topics.ALERTS.name, idle_timeout=2
        )
    ]
    ids = {key: single_article(e).article_id for key, e in events.items()}
    got = {(a.subscription_id, a.article_id) for a in alerts}
    assert len(got) == len(alerts)  # one alert per subscription and article
    assert got == {
        ("sub-usg", ids["de"]),
        ("sub-usg", ids["fr"]),
        ("sub-usg", ids["uk"]),
        ("sub-usg-german", ids["de"]),  # lang:de narrows the topic to German news
        ("sub-sicherheitsgarantien", ids["de"]),  # the compound, matched by its prefix
        ("sub-sicherheitsgarantien", ids["de-negative"]),  # free text: no topic judgement
    }
    assert {k: single_article(e).language for k, e in events.items()} == {
        "de": "de",
        "fr": "fr",
        "uk": "uk",
        "de-negative": "de",
    }
    assert [w.stop() for w in workers] == [0, 0, 0]
