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
) -> tuple[T, int]:
    """Run ``attempt`` until it succeeds or the policy gives up; return (result, attempts)."""
    tries = 0
    while True:
        tries += 1
        try:
            return await attempt(), tries
        except ProviderError as error:
            wait = policy.delay(tries - 1, error)
            if wait is None:
                why = _why_given_up(error, tries, policy)
                if why is None:
                    raise
                raise ProviderError(
                    f"{error.message} ({why})",
                    retryable=error.retryable,
                    retry_after=error.retry_after,
                    status=error.status,
                ) from error
            await sleep(wait)


def _why_given_up(error: ProviderError, tries: int, policy: RetryPolicy) -> str | None:
    """What to add to the error of the last attempt; None when it speaks for itself."""
    too_long = error.retry_after is not None and error.retry_after > policy.max_retry_after_s
    if error.retryable and too_long:
        return (
            f"the server asked to retry after {error.retry_after:g}s, "
            f"more than the {policy.max_retry_after_s:g}s promptkit waits"
        )
    return f"gave up after {tries} attempts" if tries > 1 else None
