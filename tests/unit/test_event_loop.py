"""The workers' event loop: uvloop when installed and asked for, asyncio's otherwise."""

import asyncio

import uvloop

from services.runtime import event_loop
from services.runtime.settings import RuntimeSettings


async def loop_type() -> type:
    return type(asyncio.get_running_loop())


def test_asyncio_by_default() -> None:
    assert RuntimeSettings().event_loop == "asyncio"
    assert event_loop.run(loop_type(), RuntimeSettings().event_loop) is not uvloop.Loop


def test_uvloop_when_asked() -> None:
    assert event_loop.run(loop_type(), "uvloop") is uvloop.Loop
