"""The chaos corpus: N unique valid raw events in several formats, ~5 % re-sent copies and
1 % poison of several kinds, all from one seed.

Every valid event becomes exactly one article with a distinct id and a distinct content hash
(a shared body would make two of them ``duplicate_content``, which is dedup working, not a
lost record). Copies are the same bytes under the same key, as ``newswire produce`` sends a
re-scraped page: they reach the same partition as the original, so dedup never depends on the
documented cross-worker race (two copies at two workers within the follow latency).
"""

import json
import random
from dataclasses import dataclass
from html import escape

from schemas.raw import RawArticleEvent
from services.ingest.normalize import single_article
from services.runtime.io import raw_key
from tests.helpers import FETCHED, generated_article, raw_event

# Share of valid events per format (feeds are left out: one feed is several articles, and
# the checker counts one article per valid input).
FORMATS = {"text": 0.5, "json": 0.35, "html": 0.15}
SUBJECTS = ("markets", "guarantees")


@dataclass(frozen=True)
class Poison:
    kind: str
    reason: str  # the newswire.error.reason ingest must put on its dead letter
    value: bytes


@dataclass(frozen=True)
class Record:
    """One record of the stream to produce."""

    key: bytes
    value: bytes


@dataclass(frozen=True)
class Corpus:
    records: list[Record]  # in production order: valid, copies and poison interleaved
    expected_articles: dict[str, int]  # article id -> index of its valid event
    subjects: dict[str, str]  # article id -> "markets" | "guarantees"
    poison: dict[bytes, Poison]  # key -> what it is and the reason expected
    copies: int

    @property
    def valid(self) -> int:
        return len(self.expected_articles)


def _text(i: int, subject: str) -> RawArticleEvent:
    return raw_event(generated_article(i, subject), source=f"chaos-text-{i % 7}")


def _title_and_body(i: int, subject: str) -> tuple[str, str]:
    if subject == "guarantees":
        return (
            f"Allies weigh Ukraine security guarantees, round {i}",
            f"Negotiators met for session {i} to discuss security guarantees for Ukraine. "
            "European officials said a ceasefire would need a backstop.",
        )
    return (
        f"Freight market bulletin {i}: shipping rates steady",
        f"Container freight rates were little changed in week {i}, brokers said. "
        "Port volumes held up despite weaker demand.",
    )


def _json(i: int, subject: str) -> RawArticleEvent:
    title, body = _title_and_body(i, subject)
    doc = {
        "headline" if i % 2 else "title": title,
        "content": body,
        "description": body.split(". ")[0] + ".",
        "publishedAt": f"2025-03-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00Z",
        "author": {"name": "Chaos Writer"},
        "url": f"https://chaos.example/json/{i}?utm_source=feed",
        "source": {"name": "Chaos Wire"},
    }
    return raw_event(json.dumps(doc), source="chaos-json", content_type="application/json")


def _html(i: int, subject: str) -> RawArticleEvent:
    title, body = _title_and_body(i, subject)
    url = f"https://chaos.example/html/{i}"
    page = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}'
        f'</title><meta property="og:title" content="{escape(title)}">'
        f'<meta property="article:published_time" content="2025-03-02T{i % 24:02d}:00:00Z">'
        f'<link rel="canonical" href="{url}"></head><body><nav><a href="/">Home</a></nav>'
        f"<main><article><h1>{escape(title)}</h1>"
        + "".join(f"<p>{escape(s)}.</p>" for s in body.rstrip(".").split(". "))
        + "</article></main><footer>Chaos News</footer></body></html>"
    )
    return raw_event(page, source="chaos-html", url=url, content_type="text/html")


_MAKERS = {"text": _text, "json": _json, "html": _html}

_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
    "<rss><channel><item><title>&lol2;</title></item></channel></rss>"
)


def _poison(j: int, kind: str) -> Poison:
    """Bad input of ``kind``; the reason is what ingest's dead letter must say."""
    if kind == "garbage":
        return Poison(kind, "invalid_envelope", b"\xff\xfe garbage %d" % j)
    if kind == "not_an_event":
        return Poison(kind, "invalid_envelope", json.dumps({"not": "an event", "j": j}).encode())
    if kind == "unparseable":
        event = raw_event(f"just a line of words number {j}")
        return Poison(kind, "unparseable_payload", event.model_dump_json().encode())
    if kind == "bad_json":
        event = raw_event(f'{{"title": "cut off {j}", "body": ', content_type="application/json")
        return Poison(kind, "invalid_json", event.model_dump_json().encode())
    if kind == "unsafe_xml":
        event = raw_event(_LAUGHS.replace("lolz", f"lolz{j}"), content_type="application/rss+xml")
        return Poison(kind, "unsafe_xml", event.model_dump_json().encode())
    raise ValueError(kind)


POISON_KINDS = ("garbage", "not_an_event", "unparseable", "bad_json", "unsafe_xml")


def build(n: int, seed: int = 8, copies: float = 0.05, poison: float = 0.01) -> Corpus:
    """``n`` valid events, ``copies`` × n re-sends and ``poison`` × n bad records, shuffled
    by ``seed`` so copies and poison are spread through the stream (a copy always after
    its original)."""
    rng = random.Random(seed)
    kinds = rng.choices(list(FORMATS), weights=list(FORMATS.values()), k=n)
    valid: list[RawArticleEvent] = []
    expected: dict[str, int] = {}
    subjects: dict[str, str] = {}
    for i, kind in enumerate(kinds):
        subject = SUBJECTS[0] if rng.random() < 0.7 else SUBJECTS[1]
        event = _MAKERS[kind](i, subject)
        article_id = single_article(event).article_id
        if article_id in expected:
            raise AssertionError(f"corpus event {i} repeats article {article_id}")
        expected[article_id] = i
        subjects[article_id] = subject
        valid.append(event)
    # Poison and copies go after random valid events; a copy after its own original.
    after: dict[int, list[Record]] = {}
    bad: dict[bytes, Poison] = {}
    for j in range(max(1, int(n * poison))):
        p = _poison(j, POISON_KINDS[j % len(POISON_KINDS)])
        key = f"poison-{p.kind}-{j}".encode()
        bad[key] = p
        after.setdefault(rng.randrange(n), []).append(Record(key, p.value))
    n_copies = int(n * copies)
    for _ in range(n_copies):
        original = rng.randrange(n)
        event = valid[original]
        record = Record(raw_key(event), event.model_dump_json().encode())
        after.setdefault(rng.randrange(original, n), []).append(record)
    stream: list[Record] = []
    for i, event in enumerate(valid):
        stream.append(Record(raw_key(event), event.model_dump_json().encode()))
        stream.extend(after.get(i, ()))
    return Corpus(stream, expected, subjects, bad, n_copies)


__all__ = ["FETCHED", "POISON_KINDS", "Corpus", "Poison", "Record", "build"]
