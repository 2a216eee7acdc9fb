"""The real clock: wall time for timestamps, monotonic time for durations."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime


class SystemClock:
    """Implements ``sitemon_core.ports.Clock`` with the system clocks.

    ``monotonic`` is ``time.monotonic``, the same clock asyncio's default loop (and uvloop)
    schedules with, so durations measured here agree with loop timeouts.
    """

    def monotonic(self) -> float:
        """Seconds on the monotonic clock."""
        return time.monotonic()

    def utcnow(self) -> datetime:
        """The current UTC time, timezone-aware."""
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        """Suspend the calling task for ``seconds``."""
        await asyncio.sleep(seconds)
