"""Requests-per-minute limits: request starts are spaced evenly, one slot at a time.

Even spacing (rather than bursts up to the limit) keeps a run under a
provider's per-minute quota without ever tripping its burst detection.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

__all__ = ["RateLimiter"]


class RateLimiter:
    def __init__(
        self,
        rpm: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rpm <= 0:
            raise ValueError("rpm must be positive")
        self.interval = 60.0 / rpm
        self._clock, self._sleep = clock, sleep
        self._next_slot = 0.0

    async def wait(self) -> None:
        """Return when this caller may start a request."""
        now = self._clock()
        slot = max(now, self._next_slot)
        self._next_slot = slot + self.interval  # claimed before sleeping: no two share a slot
        if slot > now:
            await self._sleep(slot - now)
