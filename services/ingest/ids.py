"""Canonical URLs and stable article ids."""

import hashlib
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from services.runtime.errors import InvalidMessage

_TRACKING_PREFIXES = ("utm_",)
_TRACKING_PARAMS = {"fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid", "ref_src"}
_DEFAULT_PORTS = {"http": 80, "https": 443}


def canonical_url(url: str) -> str:
    """Lower-case scheme and host; no default port, fragment or tracking params; sorted query."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise InvalidMessage("invalid_url", f"only http(s) URLs are accepted, got {scheme!r}")
    if parts.username or parts.password:
        raise InvalidMessage("invalid_url", "URLs with embedded credentials are rejected")
    host = (parts.hostname or "").lower()
    if not host:
        raise InvalidMessage("invalid_url", f"no host in {url[:200]!r}")
    try:
        port = parts.port
    except ValueError as exc:
        raise InvalidMessage("invalid_url", str(exc)) from exc
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    query = sorted(
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith(_TRACKING_PREFIXES) and k.lower() not in _TRACKING_PARAMS
    )
    return urlunsplit((scheme, netloc, parts.path or "/", urlencode(query), ""))


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def article_id(*, url: str | None, source: str, title: str, published_at: datetime) -> str:
    """blake2b-128 of the canonical URL; without a URL, of source, title and published time.

    The same article re-sent, re-scraped with tracking parameters, or parsed by another
    ingest worker always gets the same id.
    """
    if url:
        return _digest(url)
    return _digest(f"{source}\n{title}\n{published_at.isoformat()}")
