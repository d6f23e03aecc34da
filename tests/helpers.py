"""Shared test data builders (no I/O beyond reading the repository's sample files)."""

from datetime import UTC, datetime
from pathlib import Path

from schemas.raw import RawArticleEvent
from services.demo import SAMPLES

SEED_PATH = SAMPLES / "raw-article-ukraine-guarantees.txt"
FIXTURES = Path(__file__).parent / "fixtures"
SHARED_SEED = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / SEED_PATH.name
FETCHED = datetime(2025, 3, 10, 8, 0, tzinfo=UTC)


def seed_text() -> str:
    return SEED_PATH.read_text(encoding="utf-8")


def sample_text(name: str) -> str:
    return (SAMPLES / name).read_text(encoding="utf-8")


def raw_event(
    payload: str,
    *,
    source: str = "test",
    url: str | None = None,
    content_type: str = "text/plain",
) -> RawArticleEvent:
    return RawArticleEvent(
        source=source, fetched_at=FETCHED, payload=payload, url=url, content_type=content_type
    )


def fixture_event(relative: str, source: str = "fx") -> RawArticleEvent:
    """A raw event carrying tests/fixtures/<relative> with the type its extension implies."""
    from services.runtime.io import content_type_for

    path = FIXTURES / relative
    return raw_event(
        path.read_text(encoding="utf-8"), source=source, content_type=content_type_for(path)
    )


def generated_article(i: int, topic: str = "markets") -> str:
    """A unique article in the scraped text layout; `topic` picks its subject."""
    subjects = {
        "markets": (
            f"Shipping index update number {i} shows steady freight rates",
            "Container freight rates were little changed this week, brokers said.",
        ),
        "guarantees": (
            f"Allies discuss Ukraine security guarantees in round {i} of talks",
            "Officials debated security guarantees for Ukraine after a ceasefire.",
        ),
    }
    title, bullet = subjects[topic]
    return (
        f"{title}\n2025-03-{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}- {bullet}\n"
        f"- Item {i} of a generated test corpus.\nInsights\nBody of generated article {i}.\n"
    )
