"""Story mode: one alert per subscription per story (``story_id``) within the subscription's
window. Pure, over a changelog table (``news.notify.story_alerts``), so the memory of what
was alerted survives restarts and is shared by every notify worker.

Key ``<subscription id>\\n<story id>``, value the first alerted article and when. An article
without a story id is a story of its own. The article that opened the window passes again
(a record read again after a crash re-emits its alert, with the same alert id, rather than
losing it). Articles of one story sit on different partitions, so two workers can each let
one through within the table's follow latency (tens of ms): documented, as for ingest's dedup.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass

from schemas.subscription import MAX_STORY_WINDOW_S
from services.runtime.table import ChangelogTable
from services.runtime.worker import OutRecord


@dataclass(frozen=True)
class StoryAlert:
    article_id: str
    at_ms: int

    def encode(self) -> bytes:
        return json.dumps({"article_id": self.article_id, "at_ms": self.at_ms}).encode()

    @staticmethod
    def decode(value: bytes) -> "StoryAlert":
        try:
            data = json.loads(value)
            return StoryAlert(str(data["article_id"]), int(data["at_ms"]))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"not a story alert entry: {exc}") from exc


def story_alert_table(topic: str, clock_ms: Callable[[], int]) -> ChangelogTable[StoryAlert]:
    # Entries older than the longest allowed window cannot suppress anything any more.
    return ChangelogTable(
        topic,
        encode=StoryAlert.encode,
        decode=StoryAlert.decode,
        keep=lambda e: clock_ms() - e.at_ms <= MAX_STORY_WINDOW_S * 1000,
    )


class StoryGate:
    def __init__(self, table: ChangelogTable[StoryAlert]) -> None:
        self.table = table

    def admit(
        self,
        subscription_id: str,
        story_id: str | None,
        article_id: str,
        window_s: int,
        now_ms: int,
    ) -> tuple[bool, OutRecord | None]:
        """Whether the alert goes out, and the changelog record to produce with it."""
        if story_id is None:
            return True, None
        key = f"{subscription_id}\n{story_id}"
        seen = self.table.get(key)
        if seen is not None and now_ms - seen.at_ms < window_s * 1000:
            return seen.article_id == article_id, None
        return True, self.table.put(key, StoryAlert(article_id, now_ms))
