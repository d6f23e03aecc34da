"""``newswire subscriptions load FILE --owner ID``: a seed file into ``news.subscriptions``.

The file's ids are kept, so loading twice writes nothing the second time, and an entry whose
content changed is replaced with its version bumped (as an API update would).
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from schemas.subscription import Subscription, WebhookTarget
from services.notify.api_protocol import new_secret, subscription_of
from services.notify.store import SubscriptionStore
from services.notify.subscriptions import SeedSubscription, load_subscriptions
from services.runtime.settings import RuntimeSettings

_BOOKKEEPING = {"created_at", "updated_at", "version"}


def seeded(
    entry: SeedSubscription, owner: str, existing: Subscription | None, now: datetime
) -> tuple[Subscription | None, str | None]:
    """The record to write for ``entry`` (None: the stored one says the same already), and a
    webhook secret generated for it (None when the entry or the stored record had one)."""
    generated = None
    hook = None
    if entry.webhook is not None:
        kept = existing.delivery.webhook.secret if existing and existing.delivery.webhook else None
        secret = entry.webhook.secret or kept
        if secret is None:
            secret = generated = new_secret()
        hook = WebhookTarget(url=entry.webhook.url, secret=secret)
    candidate = subscription_of(entry, entry.id, owner, hook, now, existing)
    if existing is not None and candidate.model_dump(exclude=_BOOKKEEPING) == existing.model_dump(
        exclude=_BOOKKEEPING
    ):
        return None, None
    return candidate, generated


@dataclass(frozen=True)
class SeedReport:
    written: list[str]
    unchanged: list[str]
    secrets: dict[str, str]


async def load_seed(settings: RuntimeSettings, path: Path, owner: str) -> SeedReport:
    """Writes the file's subscriptions for ``owner``; each write acknowledged and read back."""
    entries = load_subscriptions(path)
    store = SubscriptionStore(settings.kafka)
    await store.start(
        settings.kafka.bootstrap, settings.topic(store.topic), f"{settings.kafka.client_id}-seed"
    )
    written: list[str] = []
    unchanged: list[str] = []
    secrets: dict[str, str] = {}
    try:
        for entry in entries:
            existing = store.get(entry.id)
            if existing is not None and existing.owner != owner:
                raise ValueError(
                    f"subscription {entry.id!r} belongs to key {existing.owner!r}, not {owner!r}"
                )
            record, secret = seeded(entry, owner, existing, datetime.now(UTC))
            if record is None:
                unchanged.append(entry.id)
                continue
            await store.put(record)
            written.append(entry.id)
            if secret is not None:
                secrets[entry.id] = secret
    finally:
        await store.stop()
    return SeedReport(written, unchanged, secrets)
