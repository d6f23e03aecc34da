"""A realistic mixed corpus of raw events: the four formats scrapers send, seed-sized."""

import json
import random
from datetime import UTC, datetime
from html import escape

from schemas.raw import RawArticleEvent
from services.demo import SAMPLES

_SEED = (SAMPLES / "raw-article-ukraine-guarantees.txt").read_text().strip().splitlines()
_TITLE, _DATE_LINE, _BULLETS, _BODY = _SEED[0], _SEED[1], _SEED[2:4], _SEED[6]
_CONTEXT = _SEED[-1]
_NOW = datetime.now(UTC)


def text_event(i: int, tag: str) -> RawArticleEvent:
    lines = [f"{_TITLE} ({tag} #{i})", _DATE_LINE.replace("23:24", f"{i % 24:02d}:{i % 60:02d}")]
    lines += _SEED[2:]
    return RawArticleEvent(source=f"bench-{tag}", fetched_at=_NOW, payload="\n".join(lines))


def json_event(i: int, tag: str) -> RawArticleEvent:
    doc = {
        "title": f"{_TITLE} ({tag} json #{i})",
        "content": _BODY + "\n\n" + _CONTEXT,
        "description": _BULLETS[0],
        "published_at": f"2025-03-01T{i % 24:02d}:{i % 60:02d}:00+00:00",
        "authors": ["Bench Writer"],
        "url": f"https://bench.example/{tag}/json/{i}?utm_source=feed",
        "source": {"name": "Bench Wire"},
    }
    return RawArticleEvent(
        source=f"bench-{tag}",
        fetched_at=_NOW,
        content_type="application/json",
        payload=json.dumps(doc),
    )


def html_event(i: int, tag: str) -> RawArticleEvent:
    title = escape(f"{_TITLE} ({tag} html #{i})")
    paragraphs = "".join(f"<p>{escape(s.strip())}.</p>" for s in _BODY.split(". ") if s.strip())
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta property="og:title" content="{title}"><meta property="og:site_name" content="Bench News">
<meta property="article:published_time" content="2025-03-01T{i % 24:02d}:00:00Z">
<link rel="canonical" href="https://bench.example/{tag}/html/{i}">
<script>window.analytics = {{"page": {i}}};</script><style>.ad{{display:block}}</style></head>
<body><header><nav><a href="/">Home</a><a href="/world">World</a>
<a href="/business">Business</a></nav></header>
<div class="ad">Subscribe today and save 50 percent on your first year.</div>
<main><article><h1>{title}</h1><p class="byline">By Bench Writer</p>{paragraphs}</article></main>
<aside><h3>Most read</h3><ul><li>Story one</li><li>Story two</li><li>Story three</li></ul></aside>
<footer>Copyright Bench News. All rights reserved.</footer></body></html>"""
    return RawArticleEvent(
        source=f"bench-{tag}",
        fetched_at=_NOW,
        content_type="text/html",
        payload=page,
        url=f"https://bench.example/{tag}/html/{i}",
    )


def rss_event(i: int, tag: str, items: int = 5) -> RawArticleEvent:
    entries = "".join(
        f"<item><title>{escape(_TITLE)} ({tag} rss #{i}.{k})</title>"
        f"<link>https://bench.example/{tag}/rss/{i}/{k}</link>"
        f"<pubDate>Sat, 01 Mar 2025 {k:02d}:{i % 60:02d}:00 GMT</pubDate>"
        f"<description>{escape(_BULLETS[0])}</description>"
        f"<content:encoded><![CDATA[<p>{_BODY}</p>]]></content:encoded></item>"
        for k in range(items)
    )
    feed = (
        '<?xml version="1.0"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        f"<channel><title>Bench Feed</title>{entries}</channel></rss>"
    )
    return RawArticleEvent(
        source=f"bench-{tag}", fetched_at=_NOW, content_type="application/rss+xml", payload=feed
    )


MAKERS = {"text": text_event, "json": json_event, "html": html_event, "rss": rss_event}
# Shares of the stream: mostly single articles; feeds carry 5 items each.
MIX = {"text": 0.35, "json": 0.35, "html": 0.2, "rss": 0.1}


def mixed(n: int, tag: str, duplicates: float = 0.05, seed: int = 7) -> list[RawArticleEvent]:
    """n events in the MIX proportions, then `duplicates` × n re-sends of earlier ones."""
    rng = random.Random(seed)
    kinds = rng.choices(list(MIX), weights=list(MIX.values()), k=n)
    events = [MAKERS[kind](i, tag) for i, kind in enumerate(kinds)]
    events += [events[rng.randrange(len(events))] for _ in range(int(n * duplicates))]
    rng.shuffle(events)
    return events
