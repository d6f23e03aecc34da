"""Latency of POST /v1/subscriptions/{id}/webhook/test and GET .../deliveries on the shared
broker: a local receiver answering 204, 50 calls each, after 5 warm-up calls."""
import asyncio, os, resource, statistics, sys, time
import aiohttp
sys.path.insert(0, "/work/helpers/attempts")
from tests.conftest import new_prefix  # noqa
from services.runtime.kafka import ensure_newswire_topics, delete_prefixed_topics  # type: ignore
from tests.integration.test_subscription_api import GUARANTEES, attach_attempts, start_api
from tests.integration.test_webhook_delivery import Receiver, serving

BOOT = os.environ["NEWSWIRE_TEST_BOOTSTRAP"]

async def main() -> None:
    prefix = new_prefix()
    await ensure_newswire_topics(BOOT, prefix, partitions=3)
    receiver = Receiver(statuses=[204])
    try:
        async with aiohttp.ClientSession() as http, serving(hook=receiver) as base:
            api = await start_api(BOOT, prefix, http)
            log = await attach_attempts(api)
            a = api.alice
            sid = (await a.call("POST", "/v1/subscriptions", {**GUARANTEES, "webhook": {"url": f"{base}/hook", "secret": receiver.secret}})).json()["id"]
            for _ in range(5):
                await a.call("POST", f"/v1/subscriptions/{sid}/webhook/test")
            for name, method, path in (("test", "POST", f"/v1/subscriptions/{sid}/webhook/test"), ("deliveries", "GET", f"/v1/subscriptions/{sid}/deliveries")):
                times = []
                cpu0 = time.process_time()
                for _ in range(50):
                    t = time.perf_counter()
                    async with http.request(method, api.server.url + path, headers={"Authorization": f"Bearer {a.key}"}) as r:
                        await r.read(); assert r.status == 200
                    times.append((time.perf_counter() - t) * 1000)
                cpu = (time.process_time() - cpu0) * 1000 / 50
                times.sort()
                print(f"{name}: p50 {statistics.median(times):.1f} ms, p95 {times[47]:.1f} ms, max {times[-1]:.1f} ms, process CPU {cpu:.2f} ms/call (client+server+receiver in one process)")
            await api.server.stop(); await log.stop(); await api.store.stop()
    finally:
        await delete_prefixed_topics(BOOT, prefix)

asyncio.run(main())
