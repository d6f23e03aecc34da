"""SSRF guard for webhook URLs: subscribers choose the URL, the worker makes the request.

Checked twice, as the issue asks:

1. at subscribe time, :func:`check_webhook_url` resolves the host and returns why the URL is
   refused (or None), for the API to answer 422;
2. at connect time, :class:`GuardedResolver` (aiohttp's resolver hook) resolves again, refuses
   the host if *any* address is not public, and hands aiohttp exactly the addresses it
   checked, so the socket goes to a checked address: a DNS answer that changes between check
   and connect (DNS rebinding) cannot slip an internal address in. IP-literal hosts skip
   aiohttp's resolver, so :func:`check_literal_host` is called before every request.

Refused: every address whose ``ipaddress`` properties say it is not globally routable
(loopback, RFC 1918 / ULA private, link-local incl. 169.254.169.254 metadata, unspecified,
multicast, reserved, CGNAT 100.64/10, documentation, benchmarking...), and IPv6 addresses
embedding such an IPv4 address (IPv4-mapped, 6to4, Teredo, NAT64). An explicit allow-list
(host names or CIDRs, ``NEWSWIRE_NOTIFY__WEBHOOK_ALLOW_HOSTS``) lets tests reach a receiver on
127.0.0.1; it is empty by default.
"""

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_URL_CHARS = 2048
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
# IANA special-purpose blocks that older stdlib versions (3.11.7 here) still call global.
_ALSO_NOT_GLOBAL: tuple[IPNetwork, ...] = (
    ipaddress.IPv4Network("192.0.0.0/24"),  # IETF protocol assignments
    ipaddress.IPv4Network("192.88.99.0/24"),  # deprecated 6to4 relay anycast
    ipaddress.IPv6Network("3fff::/20"),  # documentation (RFC 9637)
    ipaddress.IPv6Network("5f00::/16"),  # SRv6 SIDs
)


class WebhookRefused(OSError):
    """A webhook host resolved to an address the guard refuses. An ``OSError``, so aiohttp
    reports it as a connection error (a failed attempt) without opening a socket."""


@dataclass(frozen=True)
class AllowList:
    """Hosts (exact names, case-insensitive) and networks the guard lets through anyway."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> "AllowList":
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for raw in entries:
            entry = raw.strip()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.add(entry.lower().rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def allows_host(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.hosts

    def allows_address(self, address: IPAddress) -> bool:
        return any(address in net for net in self.networks if net.version == address.version)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]  # (server, client): the client is where packets go
    if any(address in net for net in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_refusal(address: IPAddress) -> str | None:
    """Why ``address`` must not be a webhook destination, or None when it is public."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            inner = address_refusal(embedded)
            return f"{inner} (embedded in {address})" if inner else None
        if address.scope_id:
            return "link_local"
    # Order: the most telling name first (127.0.0.1 is loopback, also "private" and "reserved").
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link_local"  # incl. 169.254.169.254, the cloud metadata service
    if address.is_multicast:
        return "multicast"
    if isinstance(address, ipaddress.IPv4Address) and address in _CGNAT:
        return "shared_cgnat"
    if address.is_reserved:
        return "reserved"
    if address.is_private:
        return "private"
    if not address.is_global or any(
        address in net for net in _ALSO_NOT_GLOBAL if net.version == address.version
    ):
        return "not_global"
    return None


def _parse_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def url_shape_refusal(url: str) -> str | None:
    """Why ``url`` is not a usable webhook URL before any lookup (scheme, host, credentials)."""
    if len(url) > MAX_URL_CHARS:
        return f"url longer than {MAX_URL_CHARS} characters"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"malformed url: {exc}"
    if parts.scheme not in ("http", "https"):
        return "only http and https urls are allowed"
    if not parts.hostname:
        return "url has no host"
    if parts.username or parts.password:
        return "credentials in the url are not allowed (the payload is signed instead)"
    if port == 0:
        return "port 0 is not allowed"
    return None


def check_literal_host(host: str, allow: AllowList) -> str | None:
    """For an IP-literal host, why it is refused (None: allowed or not a literal)."""
    address = _parse_literal(host)
    if address is None or allow.allows_host(host) or allow.allows_address(address):
        return None
    return address_refusal(address)


def check_addresses(host: str, addresses: Iterable[str], allow: AllowList) -> str | None:
    """Why ``host`` resolving to ``addresses`` is refused: any refused address refuses it."""
    if allow.allows_host(host):
        return None
    seen = False
    for text in addresses:
        seen = True
        address = ipaddress.ip_address(text.split("%", 1)[0])
        if allow.allows_address(address):
            continue
        reason = address_refusal(address)
        if reason:
            return f"{host} resolves to {address}: {reason}"
    return None if seen else f"{host} does not resolve"


async def _lookup(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return [str(info[4][0]) for info in infos]


async def check_webhook_url(url: str, allow: AllowList) -> str | None:
    """Why a subscriber may not use ``url`` as a webhook (None: it may). Resolves the host."""
    shape = url_shape_refusal(url)
    if shape:
        return shape
    parts = urlsplit(url)
    host = parts.hostname or ""
    if _parse_literal(host) is not None:
        return check_literal_host(host, allow)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = await _lookup(host, port)
    except (OSError, UnicodeError) as exc:
        return f"{host} does not resolve: {exc}"
    return check_addresses(host, addresses, allow)


class GuardedResolver(AbstractResolver):
    """aiohttp resolver that refuses hosts resolving to non-public addresses and returns
    only the addresses it checked (aiohttp connects to one of those, nothing else)."""

    def __init__(self, allow: AllowList, inner: AbstractResolver | None = None) -> None:
        self._allow = allow
        self._inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        reason = check_addresses(host, (r["host"] for r in results), self._allow)
        if reason:
            raise WebhookRefused(reason)
        return results

    async def close(self) -> None:
        await self._inner.close()


def guarded_connector_args(allow: AllowList) -> dict[str, Any]:
    """Keyword arguments for ``aiohttp.TCPConnector``: the guarded resolver and a DNS cache
    short enough that a changed record is re-checked soon (the cache holds checked answers)."""
    return {"resolver": GuardedResolver(allow), "ttl_dns_cache": 10}
