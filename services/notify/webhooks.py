"""Standard Webhooks signing (https://www.standardwebhooks.com, symmetric ``v1`` scheme). Pure.

A webhook is an HTTP POST of a JSON body with three headers:

- ``webhook-id``: the message id, the same on every retry, so receivers use it as their
  idempotency key (an alert's ``alert_id``; a digest's id derived from its alerts' ids);
- ``webhook-timestamp``: unix seconds of *this attempt* (receivers refuse stale ones);
- ``webhook-signature``: ``v1,`` + base64(HMAC-SHA256(secret, ``{id}.{timestamp}.{body}``)).

Secrets are shown to subscribers as ``whsec_`` + base64 of 32 random bytes (the spec asks for
24 to 64). The signature covers the exact bytes sent: the body is encoded once and both
signed and posted from that one ``bytes`` object.
"""

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from schemas.subscription import SECRET_PREFIX, check_secret

SECRET_BYTES = 32
ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"


class InvalidSecret(ValueError):
    """A webhook secret that is not ``whsec_`` + base64 of 24 to 64 bytes."""


def generate_secret() -> str:
    """A new signing secret, as subscribers see it (``whsec_...``)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key inside a ``whsec_`` secret; :class:`InvalidSecret` when malformed."""
    try:
        check_secret(secret)  # the contract's rule: prefix, base64, 24 to 64 bytes
    except ValueError as exc:
        raise InvalidSecret(str(exc)) from exc
    return base64.b64decode(secret[len(SECRET_PREFIX) :])


def sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "{msg_id}.{timestamp}.{body}">``."""
    if "." in msg_id:
        # The id is a delimiter-separated part of the signed string (the spec forbids dots).
        raise ValueError("a webhook id must not contain '.'")
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers, plus the JSON content type."""
    return {
        ID_HEADER: msg_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret_key(secret), msg_id, timestamp, body),
        "content-type": "application/json",
    }


@dataclass(frozen=True)
class WebhookTarget:
    """Where a subscription's alerts go, as the delivery worker needs to know it.

    ``rate_per_minute``/``burst``: the subscription's token bucket (None: the settings'
    defaults); alerts over it are folded into digests, never dropped.
    """

    url: str
    secret: str
    enabled: bool = True
    rate_per_minute: float | None = None
    burst: int | None = None


def digest_id(alert_ids: Iterable[str]) -> str:
    """A digest's webhook id: a function of its alerts' ids (in order), so the same digest
    re-sent after a restart keeps its id."""
    h = hashlib.blake2b(digest_size=16)
    for alert_id in alert_ids:
        h.update(alert_id.encode())
        h.update(b"\n")
    return "dg_" + h.hexdigest()
