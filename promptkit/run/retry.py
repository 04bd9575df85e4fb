"""When to try a failed request again, and how long to wait first.

Retryable failures (rate limits, server errors, timeouts, dropped connections:
``ProviderError.retryable``) are retried with exponential backoff and full
jitter, so many clients that failed together do not return together. A server's
Retry-After is honoured: the wait is at least what it asked for (plus a little
jitter). Anything else fails at once: asking again gets the same answer.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from promptkit.errors import ProviderError

__all__ = ["RetryPolicy", "with_retries"]

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 4  # attempts after the first
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    #: A server asking for a longer pause than this is treated as a hard failure.
    max_retry_after_s: float = 300.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def delay(self, attempt: int, error: ProviderError) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or None to give up."""
        if not error.retryable or attempt >= self.retries:
            return None
        if error.retry_after is not None:
            if error.retry_after > self.max_retry_after_s:
                return None
            return error.retry_after * (1 + 0.1 * self.rng.random())
        ceiling = min(self.max_delay_s, self.base_delay_s * 2**attempt)
        return self.rng.uniform(0, ceiling)


async def with_retries(
    attempt: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    stop: Callable[[], str | None] = lambda: None,
) -> tuple[T, int]:
    """Run ``attempt`` until it succeeds or the policy gives up; return (result, attempts).

    ``stop`` is asked before each retry: a reason (say, the model's breaker opened)
    ends the retries with the last error and that reason.
    """
    tries = 0
    while True:
        tries += 1
        try:
            return await attempt(), tries
        except ProviderError as error:
            wait = policy.delay(tries - 1, error)
            stopped = stop() if wait is not None else None
            if wait is not None and stopped is None:
                await sleep(wait)
                stopped = stop()
                if stopped is None:
                    continue
            why = stopped or _why_given_up(error, tries, policy)
            if why is None:
                raise
            raise ProviderError(
                f"{error.message} ({why})",
                retryable=error.retryable,
                retry_after=error.retry_after,
                status=error.status,
                unreachable=error.unreachable,
            ) from error


def _why_given_up(error: ProviderError, tries: int, policy: RetryPolicy) -> str | None:
    """What to add to the error of the last attempt; None when it speaks for itself."""
    too_long = error.retry_after is not None and error.retry_after > policy.max_retry_after_s
    if error.retryable and too_long:
        return (
            f"the server asked to retry after {error.retry_after:g}s, "
            f"more than the {policy.max_retry_after_s:g}s promptkit waits"
        )
    return f"gave up after {tries} attempts" if tries > 1 else None
