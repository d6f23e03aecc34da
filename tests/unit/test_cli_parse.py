"""`newswire parse`: the ingest parser offline, as a user runs it (a process, no broker)."""

import json
import subprocess
import sys
from pathlib import Path

from services.demo import SAMPLES
from tests.helpers import FIXTURES, SEED_PATH


def parse(*args: str, stdin: bytes = b"") -> tuple[int, list[dict[str, object]]]:
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "parse", *args],
        input=stdin,
        capture_output=True,
        timeout=120,
        check=False,
    )
    return done.returncode, [json.loads(line) for line in done.stdout.decode().splitlines()]


def test_one_line_per_article_error_and_duplicate(tmp_path: Path) -> None:
    copy = tmp_path / "copy.txt"
    copy.write_bytes(SEED_PATH.read_bytes())
    garbage = tmp_path / "garbage.txt"
    garbage.write_text("no layout here")
    code, lines = parse(
        str(SEED_PATH),
        str(FIXTURES / "feed" / "rss-bad-item.xml"),
        str(garbage),
        str(copy),
        "--source",
        "cli-test",
    )
    assert code == 0
    seed, good_item, bad_item, broken, duplicate = lines
    assert seed["file"] == str(SEED_PATH)
    assert seed["title"] == "Starmer meets Trump in critical talks over Ukraine security guarantees"
    assert seed["source"] == "cli-test"
    assert seed["published_at"] == "2025-03-01T23:24:00Z"
    assert good_item["title"] == "Good item"
    assert bad_item["error"] == {"class": "missing_title", "reason": "feed item without a title"}
    assert broken["error"]["class"] == "unparseable_payload"
    assert duplicate == {"file": str(copy), "duplicate_of": seed["article_id"]}


def test_stdin_and_unreadable_file() -> None:
    code, lines = parse("-", "/nonexistent/file.txt", stdin=SEED_PATH.read_bytes())
    assert code == 1  # an input that could not be read was not handled
    assert lines[0]["file"] == "-"
    assert lines[0]["format"] == "text"
    assert lines[1]["error"]["class"] == "FileNotFoundError"


def newswire(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        input=stdin.decode(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_analyze_prints_enriched_articles() -> None:
    done = newswire("analyze", str(SEED_PATH), str(FIXTURES / "feed" / "rss2.xml"))
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(rows) == 4  # the seed and three feed items
    seed = rows[0]
    assert seed["file"] == str(SEED_PATH)
    topics = {t["id"] for t in seed["topics"]}
    assert {"ukraine-security-guarantees", "us-uk-relations"} <= topics
    assert seed["sentiment"]["label"] in ("negative", "neutral", "positive")
    assert "ukraine-security-guarantees" in {t["id"] for t in rows[1]["topics"]}


def test_explain_a_match_and_a_near_miss() -> None:
    yes = newswire("explain", str(SEED_PATH), "--topic", "ukraine-security-guarantees")
    assert yes.returncode == 0, yes.stderr
    assert "→ MATCH" in yes.stdout
    assert '"security guarantees" (title)' in yes.stdout
    miss = newswire(
        "explain",
        str(SAMPLES / "pacific-security-pact.txt"),
        "--topic",
        "ukraine-security-guarantees",
    )
    assert "→ no match" in miss.stdout
    assert "✗ within 15 words of each other" in miss.stdout


def test_explain_points_at_a_query_error() -> None:
    done = newswire("explain", "-", "--query", "ukraine AND (", stdin=SEED_PATH.read_bytes())
    assert done.returncode == 2
    assert done.stderr.splitlines()[1] == " " * 13 + "^ expected a term, found end of query"


def test_explain_unknown_topic_lists_the_topics() -> None:
    done = newswire("explain", str(SEED_PATH), "--topic", "nope")
    assert done.returncode == 2
    assert "ukraine-security-guarantees" in done.stderr


def test_explain_uses_the_rule_of_the_articles_language(tmp_path: Path) -> None:
    german = tmp_path / "de.json"
    german.write_text(
        json.dumps(
            {
                "title": "Berlin sagt Sicherheitsgarantien für die Ukraine zu",
                "body": "Die Bundesregierung hat am Dienstag Sicherheitsgarantien für die Ukraine "
                "nach einem Waffenstillstand zugesagt. Präsident Selenskyj dankte Berlin.",
                "url": "https://example.de/a",
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    done = newswire("explain", str(german), "--topic", "ukraine-security-guarantees")
    assert done.returncode == 0, done.stderr
    assert "(language de)" in done.stdout
    assert ", de rule: " in done.stdout
    assert "→ MATCH" in done.stdout
