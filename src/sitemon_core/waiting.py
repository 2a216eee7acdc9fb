"""Waiting on the injectable clock, cut short by an event (a stop or wake-up request)."""

from __future__ import annotations

import asyncio

from sitemon_core.ports import Clock


async def sleep_unless(clock: Clock, seconds: float, event: asyncio.Event) -> bool:
    """Sleep ``seconds`` on ``clock``, or less if ``event`` is set; return whether it is."""
    sleeper = asyncio.ensure_future(clock.sleep(seconds))
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait({sleeper, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        sleeper.cancel()
        waiter.cancel()
    return event.is_set()
