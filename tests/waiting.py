"""Waiting for something another task or thread does, with one deadline rule for every test.

A test that polls for a post, a page turn or a reconnect must not fail because the machine
is slow or busy (a shared CI host, three workers on two cores): each wait returns as soon as
its condition holds and gives up only after ``TIMEOUT_S`` — a deadline no passing run comes
near, so a timeout means the thing never happened.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

TIMEOUT_S = 60.0


def wait_until(
    what: str, check: Callable[[], bool], timeout: float = TIMEOUT_S, step: float = 0.02
) -> None:
    """Block until ``check()`` holds; AssertionError naming ``what`` after ``timeout`` s."""
    end = time.monotonic() + timeout
    while not check():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(step)


async def until(
    what: str, check: Callable[[], bool], timeout: float = TIMEOUT_S, step: float = 0.01
) -> None:
    """The same inside an event loop: other tasks run while it waits."""
    end = time.monotonic() + timeout
    while not check():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(step)
