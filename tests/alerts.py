"""Alerts as notify writes them, for the delivery tests (unit and on the broker)."""

import hashlib
from datetime import UTC, datetime

from schemas.alert import Alert
from schemas.enriched import Sentiment


def make_alert(subscription_id: str, n: int) -> Alert:
    """The ``n``-th alert of ``subscription_id``: ids derived as notify derives them."""
    article_id = hashlib.blake2b(f"article-{n}".encode(), digest_size=16).hexdigest()
    alert_id = hashlib.blake2b(f"{subscription_id}/{article_id}".encode(), digest_size=16)
    return Alert(
        alert_id=alert_id.hexdigest(),
        subscription_id=subscription_id,
        subscription_name=f"Subscription {subscription_id}",
        article_id=article_id,
        title=f"Article number {n} about Ukraine security guarantees",
        url=f"https://news.example/{n}",
        source="test",
        published_at=datetime(2026, 11, 25, 8, 0, tzinfo=UTC),
        matched_topics=["ukraine-security-guarantees"],
        matched_terms=["security guarantees"],
        sentiment=Sentiment(score=0.1, label="neutral", method="vader:title+summary"),
        created_at=datetime(2026, 11, 25, 8, 1, tzinfo=UTC),
    )
