"""The subscription side's pure parts: the contract, incremental index updates, cursors,
API keys, the seed, the dry run and the small HTTP helpers."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas.subscription import (
    Delivery,
    Subscription,
    SubscriptionCreate,
    SubscriptionView,
    WebhookTarget,
)
from services.notify.api_protocol import (
    basic_url_check,
    decode_cursor,
    encode_cursor,
    if_match_ok,
    new_secret,
    page_after,
    parse_event_id,
    sse_event,
)
from services.notify.apikeys import KeyRing, hash_key, new_key, parse_hash_lines
from services.notify.dryrun import RecentArticles, dry_run
from services.notify.percolator import Percolator
from services.notify.seed import seeded
from services.notify.settings import DEFAULT_SUBSCRIPTIONS
from services.notify.step import follow_into
from services.notify.story_gate import StoryAlert, StoryGate, story_alert_table
from services.notify.subscriptions import (
    SeedSubscription,
    SubscriptionIndex,
    load_subscriptions,
)
from services.query import QueryDocument, parse
from tests.helpers import sample_text, seed_text
from tests.unit.test_notify import NOW, enriched_of


def stored(**fields: object) -> Subscription:
    base: dict[str, object] = {
        "id": "sub_1",
        "owner": "alice",
        "name": "n",
        "query": "ukraine",
        "created_at": NOW,
        "updated_at": NOW,
        "version": 1,
    }
    return Subscription.model_validate({**base, **fields})


class TestContract:
    """A stored subscription validates its query by parsing and its secret's form."""

    def test_a_broken_query_names_its_position(self) -> None:
        with pytest.raises(ValidationError, match="at character 11"):
            stored(query="(ukraine OR")

    def test_needs_topics_or_a_query(self) -> None:
        with pytest.raises(ValidationError, match="needs topics, a query, or both"):
            stored(query=None)

    @pytest.mark.parametrize(
        "secret", ["nope", "whsec_!!!", "whsec_" + "QUJD" * 2, "whsec_" + "QUJD" * 30]
    )
    def test_bad_secrets_are_refused(self, secret: str) -> None:
        with pytest.raises(ValidationError):
            WebhookTarget(url="https://h.example/x", secret=secret)

    def test_generated_secret_is_valid_and_the_view_hides_it(self) -> None:
        secret = new_secret()
        sub = stored(delivery=Delivery(webhook=WebhookTarget(url="https://h/x", secret=secret)))
        view = SubscriptionView.of(sub).model_dump_json()
        assert secret not in view
        assert '"secret_set":true' in view

    def test_times_are_utc(self) -> None:
        sub = stored(created_at=datetime(2025, 1, 1, 12, tzinfo=UTC) + timedelta(0))
        assert sub.created_at.tzinfo == UTC
        with pytest.raises(ValidationError):
            stored(created_at=datetime(2025, 1, 1))  # naive

    def test_unknown_fields_in_a_request_are_errors(self) -> None:
        with pytest.raises(ValidationError, match="Extra inputs"):
            SubscriptionCreate.model_validate({"name": "n", "query": "a", "colour": "red"})


class TestIncrementalIndex:
    """upsert/remove leave the index exactly as a fresh build of the same subscriptions."""

    QUERIES = (
        "ukraine",
        "guarantee*",
        '"security guarantees"',
        "entity:UA AND sentiment:<0",
        "NOT taiwan",
        "sentiment:>0.2",
        "sentiment:>0.2",
        "topic:t1 OR source:wire",
        "heatwave lang:en",
    )

    def test_remove_then_candidates_forget_it(self) -> None:
        index = SubscriptionIndex()
        index.upsert(stored(id="a", query="ukraine"))
        index.upsert(stored(id="b", query="sentiment:>0.2"))
        doc = QueryDocument.build("ukraine talks", sentiment=0.5)
        assert index.percolator.candidates(doc) == {"a", "b"}
        index.remove("a")
        index.remove("b")
        index.remove("never-added")
        assert index.percolator.candidates(doc) == set()
        assert len(index) == 0
        assert len(index.percolator) == 0
        assert not index.percolator._filed
        assert not index.percolator._filed_rules
        assert index.percolator._ids_forbidden == {}
        assert index.percolator._filed.seconds == {}
        assert index.percolator._rules == {}
        assert index.percolator._sentiment == {}

    def test_upsert_replaces_the_query(self) -> None:
        index = SubscriptionIndex([stored(id="a", query="ukraine")])
        index.upsert(stored(id="a", query="taiwan", version=2))
        assert index.percolator.candidates(QueryDocument.build("ukraine")) == set()
        assert index.percolator.candidates(QueryDocument.build("taiwan")) == {"a"}

    @settings(max_examples=150, deadline=None)
    @given(
        st.lists(
            st.tuples(st.sampled_from("abcde"), st.integers(0, len(QUERIES)), st.booleans()),
            max_size=25,
        ),
        st.text(alphabet="ukraine taiwan guarantees security heatwave ", max_size=60),
        st.floats(-1, 1),
    )
    def test_same_candidates_as_a_fresh_build(
        self, ops: list[tuple[str, int, bool]], text: str, tone: float
    ) -> None:
        live = Percolator()
        state: dict[str, str] = {}
        for sid, q, topic in ops:
            if q == len(self.QUERIES):
                live.remove(sid)
                state.pop(sid, None)
            else:
                live.add(sid, ["t1"] if topic else [], parse(self.QUERIES[q]))
                state[sid] = f"{q}:{topic}"
        fresh = Percolator()
        for sid, code in state.items():
            q, topic = code.split(":")
            fresh.add(sid, ["t1"] if topic == "True" else [], parse(self.QUERIES[int(q)]))
        doc = QueryDocument.build(text, sentiment=tone, topics=frozenset({"t1"}), lang="en")
        assert live.candidates(doc) == fresh.candidates(doc)
        assert len(live) == len(state)


class TestCursor:
    def test_round_trip(self) -> None:
        assert decode_cursor(encode_cursor("sub_abc")) == "sub_abc"

    @pytest.mark.parametrize("bad", ["", "%%%", "djE6", "eDpzdWI", encode_cursor("a") + "x"])
    def test_foreign_cursors_are_refused(self, bad: str) -> None:
        with pytest.raises(ValueError, match="not a cursor"):
            decode_cursor(bad)

    @given(st.sets(st.text(alphabet="abcdef", min_size=1, max_size=4)), st.integers(1, 7))
    def test_pages_cover_every_id_once(self, id_set: set[str], limit: int) -> None:
        ids = sorted(id_set)
        seen: list[str] = []
        after = None
        for _ in range(len(ids) + 2):
            page, cursor = page_after(ids, after, limit)
            assert len(page) <= limit
            seen += page
            if cursor is None:
                break
            after = decode_cursor(cursor)
        assert seen == ids

    def test_a_deleted_cursor_id_still_resumes_after_it(self) -> None:
        page, _ = page_after(["a", "c", "d"], "b", 10)
        assert page == ["c", "d"]


class TestApiKeys:
    """Keys are stored as hashes; the key id in a key picks the hash to compare with."""

    def test_new_key_authenticates_as_its_id(self) -> None:
        key, line = new_key("alice")
        key_id, digest = line.split()
        assert key_id == "alice"
        assert digest == hash_key(key)
        assert key not in line
        ring = KeyRing({"alice": digest})
        assert ring.authenticate(key) == "alice"

    def test_wrong_and_unknown_keys_fail(self) -> None:
        key, line = new_key("alice")
        ring = KeyRing(parse_hash_lines(line + "\n# comment\n"))
        assert ring.authenticate(key[:-1] + ("A" if key[-1] != "A" else "B")) is None
        other, _ = new_key("bob")
        assert ring.authenticate(other) is None
        assert ring.authenticate("") is None
        assert ring.authenticate("nwk_alice") is None

    @pytest.mark.parametrize(
        "text", ["alice", "alice md5:abc", "alice sha256:xyz", "a b c", "bad.id sha256:" + "0" * 64]
    )
    def test_bad_hash_lines_are_refused(self, text: str) -> None:
        with pytest.raises(ValueError, match="line 1"):
            parse_hash_lines(text)

    def test_a_plaintext_key_in_settings_is_refused(self) -> None:
        key, _ = new_key("alice")
        with pytest.raises(ValueError, match="sha256"):
            KeyRing({"alice": key})


class TestSeed:
    def test_the_default_seed_loads_and_reloading_changes_nothing(self) -> None:
        [entry] = load_subscriptions(DEFAULT_SUBSCRIPTIONS)
        first, secret = seeded(entry, "demo", None, NOW)
        assert first is not None
        assert first.version == 1
        assert secret is None
        again, _ = seeded(entry, "demo", first, NOW + timedelta(hours=1))
        assert again is None

    def test_a_changed_entry_bumps_the_version_and_keeps_the_secret(self) -> None:
        entry = SeedSubscription(id="s", name="n", query="a", webhook={"url": "https://h/x"})  # type: ignore[arg-type]
        first, secret = seeded(entry, "o", None, NOW)
        assert first is not None
        assert secret is not None
        assert first.delivery.webhook is not None
        assert first.delivery.webhook.secret == secret
        changed = entry.model_copy(update={"query": "b"})
        second, again = seeded(changed, "o", first, NOW + timedelta(1))
        assert second is not None
        assert again is None
        assert second.version == 2
        assert second.created_at == first.created_at
        assert second.delivery.webhook is not None
        assert second.delivery.webhook.secret == secret

    def test_a_broken_seed_query_names_its_position(self) -> None:
        with pytest.raises(ValidationError, match="at character 3"):
            SeedSubscription(id="s", name="n", query="a (")


class TestDryRun:
    def test_explains_matches_newest_first_and_skips_the_rest(self) -> None:
        recent = RecentArticles(2)
        seed = enriched_of(seed_text())
        for text in (sample_text("spain-heatwave.txt"), sample_text("ecb-holds-rates.txt")):
            recent.add(enriched_of(text))
        recent.add(seed)  # the buffer holds 2: the heatwave article is gone
        assert len(recent) == 2
        sub = stored(query='"security guarantee*" NEAR/10 ukrain*')
        result = dry_run(sub, recent.snapshot())
        assert result.articles_checked == 2
        [found] = result.matches
        assert found.article_id == seed.article.article_id
        assert "security guarantees" in found.matched_terms
        assert found.explanation[0].startswith("✓ within 10 words")

    def test_topics_only_subscription(self) -> None:
        sub = stored(query=None, topics=["ukraine-security-guarantees"], min_score=0.5)
        [found] = dry_run(sub, [enriched_of(seed_text())]).matches
        assert found.matched_topics == ["ukraine-security-guarantees"]
        assert found.explanation[0].startswith("✓ any of topics")


class TestHttpHelpers:
    @pytest.mark.parametrize(
        ("url", "refused"),
        [
            ("https://hooks.example.com/x", None),
            ("http://127.0.0.1:8080/x", None),  # the SSRF guard, not this check, refuses it
            ("ftp://h/x", "only http and https"),
            ("https:///x", "no host"),
            ("https://u:p@h/x", "credentials"),
            ("https://h:99999/x", "malformed url"),
        ],
    )
    async def test_basic_url_check(self, url: str, refused: str | None) -> None:
        reason = await basic_url_check(url)
        assert (reason is None) if refused is None else (refused in (reason or ""))

    def test_if_match(self) -> None:
        sub = stored(version=3)
        assert if_match_ok(None, sub)
        assert if_match_ok('"3"', sub)
        assert if_match_ok("*", sub)
        assert if_match_ok('W/"3", "4"', sub)
        assert not if_match_ok('"2"', sub)

    def test_event_ids(self) -> None:
        assert parse_event_id("2:41") == (2, 41)
        for bad in ("2", "a:1", "1:-1", ""):
            with pytest.raises(ValueError, match="partition"):
                parse_event_id(bad)
        assert sse_event("0:5", "alert", b'{"a":1}') == b'id: 0:5\nevent: alert\ndata: {"a":1}\n\n'


class TestStoryGate:
    """Story mode: one alert per subscription and story within the window."""

    def gate(self) -> StoryGate:
        return StoryGate(story_alert_table("news.notify.story_alerts", lambda: 0))

    def test_one_alert_per_story_in_the_window(self) -> None:
        gate = self.gate()
        ok, record = gate.admit("s", "story-1", "a1", 3600, now_ms=1_000)
        assert ok
        assert record is not None
        assert StoryAlert.decode(record.value or b"") == StoryAlert("a1", 1_000)
        assert gate.admit("s", "story-1", "a2", 3600, now_ms=2_000) == (False, None)
        # Another subscription, another story, or no story at all: not held back.
        assert gate.admit("t", "story-1", "a2", 3600, now_ms=2_000)[0]
        assert gate.admit("s", "story-2", "a3", 3600, now_ms=2_000)[0]
        assert gate.admit("s", None, "a4", 3600, now_ms=2_000) == (True, None)

    def test_the_window_reopens_and_a_reread_article_passes_again(self) -> None:
        gate = self.gate()
        gate.admit("s", "story", "a1", 60, now_ms=0)
        assert gate.admit("s", "story", "a1", 60, now_ms=10_000) == (True, None)  # re-read
        assert not gate.admit("s", "story", "a2", 60, now_ms=59_999)[0]
        ok, record = gate.admit("s", "story", "a3", 60, now_ms=60_000)
        assert ok
        assert record is not None

    def test_unreadable_entries_are_refused(self) -> None:
        with pytest.raises(ValueError, match="not a story alert"):
            StoryAlert.decode(b"{}")


class TestFollowInto:
    """The worker's index holds exactly the active subscriptions the store reports."""

    def test_disabled_and_deleted_subscriptions_leave_the_index(self) -> None:
        index = SubscriptionIndex()
        listener = follow_into(index)
        active = stored(id="a", query="ukraine")
        listener("a", None, active)
        assert index.percolator.candidates(QueryDocument.build("ukraine")) == {"a"}
        disabled = stored(id="a", query="ukraine", status="disabled", version=2)
        listener("a", active, disabled)
        assert len(index) == 0
        listener("a", disabled, stored(id="a", query="taiwan", version=3))
        assert index.percolator.candidates(QueryDocument.build("taiwan")) == {"a"}
        listener("a", None, None)
        assert len(index) == 0


def test_alerts_carry_the_story() -> None:
    enriched = enriched_of(seed_text()).model_copy(update={"story_id": "story-9"})
    [alert] = SubscriptionIndex([stored(query="ukraine")]).match(enriched, NOW)
    assert alert.story_id == "story-9"
