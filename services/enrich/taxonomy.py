"""Topic tagging by rule. Pure: a compiled taxonomy and an article in, tags out."""

import bisect
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from schemas.article import Article
from schemas.enriched import TopicTag

_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class TopicRule:
    id: str
    label: str
    groups: tuple[re.Pattern[str], ...]
    exclude: re.Pattern[str] | None
    near: int | None


@dataclass(frozen=True)
class Taxonomy:
    version: str
    rules: tuple[TopicRule, ...]


def _alternation(patterns: list[str]) -> re.Pattern[str]:
    # \b on both sides: "UK" must not match inside "Ukraine"; patterns are case-insensitive
    # except that short all-caps acronyms are matched as written ("US" is not "us").
    def one(p: str) -> str:
        caseful = re.fullmatch(r"[A-Z\\.]{2,6}", p) is not None
        body = p if not caseful else f"(?-i:{p})"
        return rf"(?<!\w){body}(?!\w)"

    return re.compile("|".join(one(p) for p in patterns), re.IGNORECASE)


def load_taxonomy(path: Path) -> Taxonomy:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    rules = []
    for topic in data["topics"]:
        rules.append(
            TopicRule(
                id=topic["id"],
                label=topic["label"],
                groups=tuple(_alternation(group) for group in topic["all"]),
                exclude=_alternation(topic["none"]) if topic.get("none") else None,
                near=topic.get("near"),
            )
        )
    return Taxonomy(version=str(data["version"]), rules=tuple(rules))


def article_text(article: Article) -> str:
    return "\n".join([article.title, *article.summary, article.body, article.context])


def _min_window(hits: list[list[int]]) -> int | None:
    """Smallest span in words that holds one hit of every group (None if a group has none)."""
    events = sorted((pos, g) for g, positions in enumerate(hits) for pos in positions)
    need = len(hits)
    counts = [0] * need
    covered = 0
    best: int | None = None
    left = 0
    for pos, group in events:
        counts[group] += 1
        if counts[group] == 1:
            covered += 1
        while covered == need:
            left_pos, left_group = events[left]
            span = pos - left_pos
            best = span if best is None or span < best else best
            counts[left_group] -= 1
            if counts[left_group] == 0:
                covered -= 1
            left += 1
    return best


def tag(article: Article, taxonomy: Taxonomy) -> list[TopicTag]:
    text = article_text(article)
    word_starts = [m.start() for m in _WORD.finditer(text)]
    tags: list[TopicTag] = []
    for rule in taxonomy.rules:
        if rule.exclude and rule.exclude.search(text):
            continue
        matches = [list(group.finditer(text)) for group in rule.groups]
        if not all(matches):
            continue
        if rule.near is not None:
            positions = [
                [bisect.bisect_right(word_starts, m.start()) for m in ms] for ms in matches
            ]
            span = _min_window(positions)
            if span is None or span > rule.near:
                continue
        mentions = sum(len(ms) for ms in matches)
        terms = sorted({m.group(0).lower() for ms in matches for m in ms})
        in_title = any(g.search(article.title) for g in rule.groups)
        # Simple, explainable confidence: more mentions and a title hit raise it.
        score = min(1.0, 0.4 + 0.05 * mentions + (0.2 if in_title else 0.0))
        tags.append(TopicTag(id=rule.id, label=rule.label, score=round(score, 3), matched=terms))
    return tags
