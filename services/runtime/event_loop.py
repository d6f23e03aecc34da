"""Running a worker's main coroutine on the event loop its settings name."""

import asyncio
from collections.abc import Coroutine
from typing import Any, Literal, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T], loop: Literal["uvloop", "asyncio"] = "uvloop") -> T:
    """``asyncio.run(main)``, on uvloop when asked for and installed (it is a dependency on
    Linux and macOS; elsewhere the standard loop runs)."""
    if loop == "uvloop":
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return uvloop.run(main)
    return asyncio.run(main)
