"""The subscription API's protocol details: cursors, ETags, event ids, idempotency ids,
the partition a subscription's alerts are on, the default webhook URL check. Pure."""

import base64
import binascii
import bisect
import hashlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from aiokafka.partitioner import DefaultPartitioner

from schemas.subscription import (
    SUBSCRIPTION_ID,
    Delivery,
    Subscription,
    SubscriptionCreate,
    WebhookTarget,
)
from services.notify.ssrf import url_shape_refusal
from services.notify.webhooks import generate_secret

# Refuses a webhook URL with a reason, or accepts it with None. The default checks the form
# only; the SSRF guard (resolving the host, refusing private addresses) plugs in here.
UrlChecker = Callable[[str], Awaitable[str | None]]

_SUB_ID = re.compile(SUBSCRIPTION_ID)


async def basic_url_check(url: str) -> str | None:
    """http(s), a host, no credentials. Not an SSRF guard: it does not resolve the host."""
    return url_shape_refusal(url)


# --- cursor pagination (pure) ----------------------------------------------------------------


def encode_cursor(last_id: str) -> str:
    """Opaque to clients: the id the page ended at, base64url."""
    return base64.urlsafe_b64encode(f"v1:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """The id a page ended at; ValueError for anything :func:`encode_cursor` did not make."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ValueError("not a cursor this API issued") from exc
    if not raw.startswith("v1:") or not _SUB_ID.match(raw[3:]):
        raise ValueError("not a cursor this API issued")
    return raw[3:]


def page_after(ids: list[str], after: str | None, limit: int) -> tuple[list[str], str | None]:
    """Up to ``limit`` of the sorted ``ids`` after ``after``, and the next cursor (None: last
    page). A cursor stays valid when the id it names is deleted: the page starts after it."""
    start = bisect.bisect_right(ids, after) if after is not None else 0
    chosen = ids[start : start + limit]
    more = start + limit < len(ids)
    return chosen, encode_cursor(chosen[-1]) if more and chosen else None


# --- the alert stream's parts (pure) ---------------------------------------------------------

_PARTITIONER = DefaultPartitioner()


def partition_of(subscription_id: str, partitions: int) -> int:
    """The news.alerts partition holding a subscription's alerts (Kafka's default
    partitioner: murmur2 of the key, as the producer chose)."""
    every = list(range(partitions))
    return int(_PARTITIONER(subscription_id.encode(), every, every))


def parse_event_id(value: str) -> tuple[int, int]:
    """``<partition>:<offset>`` → the pair; ValueError otherwise."""
    partition, sep, offset = value.partition(":")
    if not sep or not partition.isdigit() or not offset.isdigit():
        raise ValueError("expected '<partition>:<offset>'")
    return int(partition), int(offset)


def sse_event(event_id: str, event: str, data: bytes) -> bytes:
    # The alert is one line of JSON (newlines inside strings are escaped), so one data field.
    return (
        b"id: " + event_id.encode() + b"\nevent: " + event.encode() + b"\ndata: " + data + b"\n\n"
    )


def new_secret() -> str:
    return generate_secret()


def idempotent_id(owner: str, idempotency_key: str) -> str:
    digest = hashlib.blake2b(f"{owner}\n{idempotency_key}".encode(), digest_size=16)
    return f"sub_{digest.hexdigest()}"


def same_request(sub: Subscription, body: SubscriptionCreate) -> bool:
    """Whether ``sub`` is what ``body`` would create (secret aside, unless given)."""
    hook = sub.delivery.webhook
    wanted = body.webhook
    return (
        sub.version == 1
        and (sub.name, sub.query, sub.topics, sub.min_score, sub.mode, sub.story_window_s)
        == (body.name, body.query, body.topics, body.min_score, body.mode, body.story_window_s)
        and sub.delivery.stream == body.stream
        and (hook is None) == (wanted is None)
        and (
            hook is None
            or wanted is None
            or (hook.url == wanted.url and wanted.secret in (None, hook.secret))
        )
    )


def subscription_of(
    body: SubscriptionCreate,
    sub_id: str,
    owner: str,
    hook: WebhookTarget | None,
    now: datetime,
    previous: Subscription | None = None,
) -> Subscription:
    """The record ``body`` describes: version 1, or the next version of ``previous`` (whose
    creation time it keeps). ``hook``: the webhook with its secret, when ``body`` has one."""
    return Subscription(
        id=sub_id,
        owner=owner,
        name=body.name,
        query=body.query,
        topics=body.topics,
        min_score=body.min_score,
        mode=body.mode,
        story_window_s=body.story_window_s,
        delivery=Delivery(webhook=hook, stream=body.stream),
        created_at=previous.created_at if previous else now,
        updated_at=now,
        version=previous.version + 1 if previous else 1,
    )


def etag(sub: Subscription) -> str:
    return f'"{sub.version}"'


def if_match_ok(header: str | None, sub: Subscription) -> bool:
    if header is None:
        return True
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag(sub) in tags


@dataclass
class StreamSlots:
    """Open SSE streams, bounded overall and per key."""

    total: int = 0
    by_key: dict[str, int] = field(default_factory=dict)

    def take(self, key: str, max_total: int, max_per_key: int) -> bool:
        if self.total >= max_total or self.by_key.get(key, 0) >= max_per_key:
            return False
        self.total += 1
        self.by_key[key] = self.by_key.get(key, 0) + 1
        return True

    def give(self, key: str) -> None:
        self.total -= 1
        self.by_key[key] -= 1
        if not self.by_key[key]:
            del self.by_key[key]
