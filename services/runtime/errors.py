"""Failure classes, sorted by what the loop does about them.

============== ===================================================== ====================
class          meaning                                               the loop
============== ===================================================== ====================
InvalidMessage this record can never be processed (bad bytes, schema) dead letter, move on
any other      a bug or an outage                                    stop loudly, offsets
                                                                     stay uncommitted
============== ===================================================== ====================
"""


class InvalidMessage(Exception):
    """The record is bad data: it goes to the dead-letter topic with ``reason``.

    ``reason`` is a short machine-readable code (``unparseable_payload``); ``detail`` the
    human-readable explanation.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
