"""The webhook dispatcher's lanes, without Kafka or HTTP: what a lane does once its partition
is abandoned (revoked, or the worker stopping). The broker and a real receiver are in
tests/integration/test_webhook_delivery.py."""

import asyncio

from services.notify.delivery import WebhookDispatcher
from services.notify.ledger import ledger_table
from services.notify.sender import AttemptResult
from services.notify.settings import WebhookSettings
from services.notify.webhooks import WebhookTarget, generate_secret
from services.runtime.metrics import WorkerMetrics
from services.runtime.table import OutRecord
from services.runtime.worker import InputRecord
from tests.alerts import make_alert
from tests.waiting import wait_until

ALERTS_TOPIC = "news.alerts"


class DeafToCancellation:
    """A sender that answers 500 and turns a cancellation during the request into an answer,
    as a library can that maps it to its own timeout: the case where a lane's task.cancel()
    never reaches it."""

    def __init__(self) -> None:
        self.posts = 0
        self.swallowed = 0
        self.in_request = asyncio.Event()

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> AttemptResult:
        self.posts += 1
        self.in_request.set()
        try:
            await asyncio.sleep(0.005)
        except asyncio.CancelledError:
            self.swallowed += 1
        finally:
            self.in_request.clear()
        return AttemptResult(500)

    async def close(self) -> None:
        pass


def alert_record(offset: int) -> InputRecord:
    alert = make_alert("sub-1", offset)
    return InputRecord(ALERTS_TOPIC, 0, offset, 0, b"sub-1", alert.model_dump_json().encode(), [])


async def test_an_abandoned_lane_stops_even_if_its_cancellation_is_lost() -> None:
    sender = DeafToCancellation()
    written: list[OutRecord] = []

    async def emit(records: list[OutRecord]) -> None:
        written.extend(records)

    target = WebhookTarget("https://hooks.example/x", generate_secret())
    dispatcher = WebhookDispatcher(
        WebhookSettings(
            retry_base_delay_seconds=0.001,
            retry_max_delay_seconds=0.001,
            retry_max_attempts=300,
        ),
        lambda subscription_id: target,
        lambda subscription_id, reason: asyncio.sleep(0),
        ledger_table(3600),
        emit,
        WorkerMetrics("deliver"),
        sender=sender,  # type: ignore[arg-type]
    )
    futures = [dispatcher.submit(alert_record(n)) for n in range(3)]

    async def retrying() -> bool:
        return sender.posts >= 3

    await wait_until(retrying, 5, "the first alert being retried")
    await asyncio.wait_for(sender.in_request.wait(), 1)  # mid-request: where it is swallowed
    dispatcher.abandon({(ALERTS_TOPIC, 0)})
    posts_when_abandoned = sender.posts
    await asyncio.sleep(0.2)  # ~30 attempts' time for a lane that went on
    assert sender.swallowed == 1
    assert sender.posts <= posts_when_abandoned + 1
    assert all(f.cancelled() for f in futures)
    await dispatcher.close()  # a lane that went on ends at its 300 attempts, ~2 s
