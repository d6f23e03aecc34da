"""Metric names in deploy files vs. the names workers really export (tests only).

The dashboard and the alert rules may name only metrics a worker's /metrics shows, recording
rules from deploy/prometheus/rules.yml, or metrics docs/operations.md lists as "not yet
exported": nothing in deploy/ may silently point at a series that will never exist.
"""

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import yaml

from services.runtime.local import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
RULES = DEPLOY / "prometheus" / "rules.yml"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "newswire.json"
OPERATIONS = REPO_ROOT / "docs" / "operations.md"
PENDING_HEADING = "## Metrics the rules expect"

# Series each exposition type adds to its metric's name.
_SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("_sum", "_count"),
}
# Only newswire's own names (and `up`, which Prometheus adds to every target) are checked.
_NAME = re.compile(r"(?<![\w:])(newswire[_:][A-Za-z0-9_:]*|up)(?![\w:])")
# Series Prometheus itself writes for every scrape target.
SCRAPE_SERIES = {"up"}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|`[^`]*`|\'(?:[^\'\\]|\\.)*\'')
_GROUPING = re.compile(
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", re.IGNORECASE
)


def exposed_names(text: str) -> set[str]:
    """Every series name a scrape can produce: sample names, and for each ``# TYPE`` line the
    names its type implies (a labelled counter shows no sample until first incremented)."""
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(maxsplit=3)
            base = name.removesuffix("_total") if kind == "counter" else name
            names.add(name)
            names.update(base + s for s in _SUFFIXES.get(kind, ()))
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def names_in_promql(expr: str) -> set[str]:
    """newswire metric names (and ``up``) an expression selects; label names, label values
    and grouping lists are not metric names, so they are removed first."""
    expr = _STRING.sub('""', expr)
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    expr = _GROUPING.sub("", expr)
    return set(_NAME.findall(expr))


def pending_metrics(markdown: str | None = None) -> dict[str, str]:
    """name -> type of the rows marked "not yet exported" in docs/operations.md's table."""
    text = markdown if markdown is not None else OPERATIONS.read_text()
    start = text.index(PENDING_HEADING)
    end = text.find("\n## ", start + len(PENDING_HEADING))
    section = text[start : end if end >= 0 else None]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and "not yet exported" in line:
            match = re.fullmatch(r"`([A-Za-z_:][A-Za-z0-9_:]*)`", cells[0])
            if match:
                rows[match.group(1)] = cells[1]
    return rows


def pending_names(markdown: str | None = None) -> set[str]:
    names: set[str] = set()
    for name, kind in pending_metrics(markdown).items():
        base = name.removesuffix("_total") if kind == "counter" else name
        names.add(name)
        names.update(base + s for s in _SUFFIXES.get(kind, ()))
    return names


def recorded_names() -> set[str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {r["record"] for g in groups for r in g["rules"] if "record" in r}


def rule_expressions() -> Iterator[tuple[str, str]]:
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            yield rule.get("alert") or rule["record"], rule["expr"]


def dashboard_expressions(path: Path = DASHBOARD) -> Iterator[tuple[str, str]]:
    """(panel title, PromQL) for every target of every panel, rows' nested panels included."""

    def walk(panels: list[dict]) -> Iterator[tuple[str, str]]:  # type: ignore[type-arg]
        for panel in panels:
            for target in panel.get("targets", []):
                if target.get("expr"):
                    yield panel.get("title", "?"), target["expr"]
            yield from walk(panel.get("panels", []))

    dashboard = json.loads(path.read_text())
    yield from walk(dashboard["panels"])
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable.get("query")
        if isinstance(query, dict):
            query = query.get("query")
        if variable.get("type") == "query" and isinstance(query, str):
            yield f"variable {variable['name']}", query


def unknown_names(expressions: Iterator[tuple[str, str]], exported: set[str]) -> list[str]:
    known = exported | pending_names() | recorded_names() | SCRAPE_SERIES
    return [
        f"{where}: {name}"
        for where, expr in expressions
        for name in sorted(names_in_promql(expr))
        if name not in known
    ]


def promtool_check_metrics(text: str) -> subprocess.CompletedProcess[str]:
    """``promtool check metrics`` on a scrape: exit 0 and no output means no lint problem."""
    path = shutil.which("promtool")
    assert path is not None
    return subprocess.run(
        [path, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
    )
