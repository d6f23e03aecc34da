"""Failure classes, sorted by what the loop does about them.

=============== ==================================================== =======================
class           meaning                                              the worker
=============== ==================================================== =======================
InvalidMessage  this record can never be processed (bad bytes,       dead letter, move on
                schema)
broker trouble  KafkaError, a bounded broker call timing out, a      rebuild its clients and
(:func:`is_     socket error: the broker is down, slow, or fenced     go on from the last
broker_trouble`) this worker's transactions                           committed offsets
any other       a bug                                                stop loudly, offsets
                                                                     stay uncommitted
=============== ==================================================== =======================
"""

from aiokafka.errors import KafkaError


class InvalidMessage(Exception):
    """The record is bad data: it goes to the dead-letter topic with ``reason``.

    ``reason`` is a short machine-readable code (``unparseable_payload``); ``detail`` the
    human-readable explanation.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail

    def __reduce__(self) -> tuple[type["InvalidMessage"], tuple[str, str]]:
        # Rebuilt from (reason, detail) when a step pool's child returns one (parallel.py);
        # the default would call __init__ with the formatted message alone.
        return type(self), (self.reason, self.detail)


class BrokerCallTimeout(TimeoutError):
    """A broker call took longer than ``kafka.call_timeout_seconds``."""


def is_broker_trouble(exc: BaseException) -> bool:
    """True for failures a rebuild of the Kafka clients can get past (app.py)."""
    return isinstance(exc, KafkaError | BrokerCallTimeout | ConnectionError)
