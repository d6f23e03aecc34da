"""The SSRF guard: address classification, URL checks, and refusal before any connection."""

import asyncio
import ipaddress

import aiohttp
import pytest

from services.notify.sender import WebhookSender
from services.notify.settings import WebhookSettings
from services.notify.ssrf import (
    AllowList,
    GuardedResolver,
    WebhookRefused,
    address_refusal,
    check_addresses,
    check_webhook_url,
    url_shape_refusal,
)

NOTHING = AllowList()


class TestAddresses:
    """Every address that is not globally routable is refused, with a telling reason."""

    @pytest.mark.parametrize(
        ("address", "reason"),
        [
            ("127.0.0.1", "loopback"),
            ("127.255.0.9", "loopback"),
            ("::1", "loopback"),
            ("10.0.0.1", "private"),
            ("172.16.5.4", "private"),
            ("172.31.255.255", "private"),
            ("192.168.0.10", "private"),
            ("fc00::1", "private"),
            ("fd12:3456::1", "private"),
            ("169.254.169.254", "link_local"),  # cloud metadata
            ("169.254.0.1", "link_local"),
            ("fe80::1", "link_local"),
            ("fe80::1%eth0", "link_local"),
            ("0.0.0.0", "unspecified"),
            ("::", "unspecified"),
            ("224.0.0.1", "multicast"),
            ("239.255.255.250", "multicast"),
            ("ff02::1", "multicast"),
            ("240.0.0.1", "reserved"),
            ("100.64.0.1", "shared_cgnat"),
            ("100.127.255.254", "shared_cgnat"),
            ("192.0.2.1", "private"),  # documentation
            ("198.51.100.7", "private"),
            ("203.0.113.9", "private"),
            ("198.18.0.1", "private"),  # benchmarking
            ("2001:db8::1", "private"),
            ("192.0.0.8", "not_global"),  # IETF protocol assignments
            ("192.88.99.1", "not_global"),  # 6to4 relay anycast
        ],
    )
    def test_refused(self, address: str, reason: str) -> None:
        assert address_refusal(ipaddress.ip_address(address)) == reason

    @pytest.mark.parametrize(
        ("address", "inner"),
        [
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:169.254.169.254", "link_local"),
            ("::ffff:10.0.0.1", "private"),
            ("2002:7f00:1::1", "loopback"),  # 6to4 around 127.0.0.1
            ("2002:a9fe:a9fe::1", "link_local"),  # 6to4 around the metadata address
            ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
            ("64:ff9b::7f00:1", "loopback"),
        ],
    )
    def test_ipv4_embedded_in_ipv6_is_judged_by_the_ipv4(self, address: str, inner: str) -> None:
        reason = address_refusal(ipaddress.ip_address(address))
        assert reason is not None
        assert reason.startswith(inner)

    @pytest.mark.parametrize(
        "address",
        [
            "8.8.8.8",
            "1.1.1.1",
            "93.184.215.14",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "2002:0808:0808::1",
            "64:ff9b::808:808",
        ],
    )
    def test_public_addresses_pass(self, address: str) -> None:
        assert address_refusal(ipaddress.ip_address(address)) is None


class TestAllowList:
    """An explicit allow-list (hosts or CIDRs) lets a test receiver on loopback through."""

    def test_cidr_and_host_entries(self) -> None:
        allow = AllowList.parse(["127.0.0.1", "10.1.0.0/16", "Receiver.Test.", " ", "::1"])
        assert allow.allows_address(ipaddress.ip_address("127.0.0.1"))
        assert not allow.allows_address(ipaddress.ip_address("127.0.0.2"))
        assert allow.allows_address(ipaddress.ip_address("10.1.200.3"))
        assert allow.allows_address(ipaddress.ip_address("::1"))
        assert allow.allows_host("receiver.test")

    def test_every_address_must_pass(self) -> None:
        allow = AllowList.parse(["127.0.0.1"])
        assert check_addresses("h", ["127.0.0.1"], allow) is None
        refused = check_addresses("h", ["127.0.0.1", "10.0.0.1"], allow)
        assert refused == "h resolves to 10.0.0.1: private"
        assert check_addresses("h", ["8.8.8.8", "169.254.169.254"], NOTHING) is not None
        assert check_addresses("h", [], NOTHING) == "h does not resolve"

    def test_settings_read_comma_separated_hosts(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from services.notify.settings import DeliverySettings

        monkeypatch.setenv("NEWSWIRE_NOTIFY__WEBHOOK_ALLOW_HOSTS", "127.0.0.1, ::1/128")
        assert DeliverySettings().notify.webhook_allow_hosts == ("127.0.0.1", "::1/128")
        assert WebhookSettings().webhook_allow_hosts == ()
        assert DeliverySettings().notify.allow_list() == AllowList(
            frozenset(), (ipaddress.ip_network("127.0.0.1"), ipaddress.ip_network("::1"))
        )


class TestUrls:
    """Subscribe-time checks: URL shape, literal addresses and resolved names."""

    @pytest.mark.parametrize(
        ("url", "fragment"),
        [
            ("ftp://example.com/x", "only http and https"),
            ("file:///etc/passwd", "only http and https"),
            ("http:///nohost", "no host"),
            ("https://user:pw@example.com/", "credentials"),
            ("http://example.com:99999/", "malformed"),
            ("http://example.com:0/", "port 0"),
            ("https://example.com/" + "a" * 3000, "longer than"),
        ],
    )
    def test_shape(self, url: str, fragment: str) -> None:
        reason = url_shape_refusal(url)
        assert reason is not None
        assert fragment in reason

    @pytest.mark.parametrize(
        "url",
        [
            "http://127.0.0.1:8080/hook",
            "http://[::1]/hook",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::ffff:127.0.0.1]/",
            "http://10.0.0.5/",
            "http://0.0.0.0:80/",
            "http://localhost:9000/",
        ],
    )
    async def test_internal_destinations_are_refused(self, url: str) -> None:
        assert await check_webhook_url(url, NOTHING) is not None

    async def test_allow_list_admits_loopback(self) -> None:
        allow = AllowList.parse(["127.0.0.1", "::1"])
        assert await check_webhook_url("http://127.0.0.1:8080/hook", allow) is None
        assert await check_webhook_url("http://localhost:8080/hook", allow) is None
        assert await check_webhook_url("http://10.0.0.5/", allow) is not None

    async def test_public_literal_passes_without_lookup(self) -> None:
        assert await check_webhook_url("https://93.184.215.14/hook", NOTHING) is None

    async def test_unresolvable_name_is_refused(self) -> None:
        reason = await check_webhook_url("http://no-such-host.invalid/", NOTHING)
        assert reason is not None
        assert "does not resolve" in reason


class _CountingServer:
    """A TCP listener on 127.0.0.1 counting connections (it answers 200 to anything)."""

    def __init__(self) -> None:
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> int:
        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            await reader.read(1024)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            await writer.drain()
            writer.close()

        self.server = await asyncio.start_server(accept, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def __aexit__(self, *_: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


class TestConnectTime:
    """At connect time the guard refuses before a socket is opened; allowed, it connects."""

    async def test_resolver_refuses_a_name_resolving_to_loopback(self) -> None:
        counter = _CountingServer()
        async with counter as port:
            connector = aiohttp.TCPConnector(resolver=GuardedResolver(NOTHING))
            async with aiohttp.ClientSession(connector=connector) as session:
                with pytest.raises(aiohttp.ClientConnectorError) as caught:
                    await session.post(f"http://localhost:{port}/hook", data=b"{}")
            assert isinstance(caught.value.os_error, WebhookRefused)
            assert counter.connections == 0

    async def test_resolver_returns_only_checked_addresses(self) -> None:
        resolver = GuardedResolver(AllowList.parse(["127.0.0.1", "::1"]))
        results = await resolver.resolve("localhost", 80)
        assert results
        assert all(r["host"] in ("127.0.0.1", "::1") for r in results)
        await resolver.close()

    @pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
    async def test_sender_refuses_loopback_unless_allowed(self, host: str) -> None:
        counter = _CountingServer()
        async with counter as port:
            url = f"http://{host}:{port}/hook"
            refusing = WebhookSender(WebhookSettings())
            result = await refusing.post(url, b"{}", {})
            await refusing.close()
            assert result.refused
            assert result.status is None
            assert result.result_class == "refused"
            assert counter.connections == 0

            allowing = WebhookSender(WebhookSettings(webhook_allow_hosts=("127.0.0.1", "::1")))
            result = await allowing.post(url, b"{}", {})
            await allowing.close()
            assert result.status == 200
            assert counter.connections == 1

    async def test_redirects_are_not_followed(self) -> None:
        from aiohttp import web

        hits: list[str] = []

        async def redirect(request: web.Request) -> web.Response:
            hits.append(request.path)
            raise web.HTTPFound("/elsewhere")

        app = web.Application()
        app.router.add_post("/hook", redirect)
        app.router.add_route("*", "/elsewhere", redirect)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        sender = WebhookSender(WebhookSettings(webhook_allow_hosts=("127.0.0.1",)))
        try:
            result = await sender.post(f"http://127.0.0.1:{port}/hook", b"{}", {})
        finally:
            await sender.close()
            await runner.cleanup()
        assert result.status == 302
        assert result.result_class == "3xx"
        assert hits == ["/hook"]

    async def test_slow_receiver_times_out(self) -> None:
        from aiohttp import web

        async def slow(_: web.Request) -> web.Response:
            await asyncio.sleep(1.5)
            return web.Response()

        app = web.Application()
        app.router.add_post("/hook", slow)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        settings = WebhookSettings(webhook_allow_hosts=("127.0.0.1",), webhook_timeout_seconds=0.3)
        sender = WebhookSender(settings)
        try:
            result = await sender.post(f"http://127.0.0.1:{port}/hook", b"{}", {})
        finally:
            await sender.close()
            await runner.cleanup()
        assert result.status is None
        assert result.result_class == "error"
        assert result.seconds < 2.0
