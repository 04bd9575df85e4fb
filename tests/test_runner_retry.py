"""Retry policy, Retry-After parsing and request pacing, with a fake clock."""

from __future__ import annotations

import asyncio
import email.utils
import random
import time

import pytest

from promptkit import ProviderError
from promptkit.providers.http import parse_retry_after, status_error
from promptkit.run.ratelimit import RateLimiter
from promptkit.run.retry import RetryPolicy, with_retries


def policy(**kwargs: float) -> RetryPolicy:
    return RetryPolicy(rng=random.Random(0), **kwargs)  # type: ignore[arg-type]


def test_backoff_is_jittered_below_a_doubling_ceiling() -> None:
    rule = policy(base_delay_s=0.5, max_delay_s=4.0, retries=10)
    error = ProviderError("HTTP 503", retryable=True)
    for attempt in range(10):
        ceiling = min(4.0, 0.5 * 2**attempt)
        delays = [rule.delay(attempt, error) for _ in range(200)]
        assert all(d is not None and 0 <= d <= ceiling for d in delays)
        assert max(d for d in delays if d is not None) > ceiling * 0.8  # really spread out


def test_retry_after_is_honoured_with_a_little_jitter() -> None:
    rule = policy()
    error = ProviderError("HTTP 429", retryable=True, retry_after=7.0)
    delays = [rule.delay(0, error) for _ in range(100)]
    assert all(d is not None and 7.0 <= d <= 7.7 for d in delays)
    too_long = ProviderError("HTTP 429", retryable=True, retry_after=3600)
    assert rule.delay(0, too_long) is None


def test_non_retryable_and_exhausted_give_up() -> None:
    rule = policy(retries=2)
    assert rule.delay(0, ProviderError("HTTP 400", retryable=False)) is None
    assert rule.delay(2, ProviderError("HTTP 500", retryable=True)) is None
    assert rule.delay(1, ProviderError("HTTP 500", retryable=True)) is not None


def test_with_retries_sleeps_between_attempts_and_counts_them() -> None:
    sleeps: list[float] = []
    outcomes = [
        ProviderError("HTTP 429", retryable=True, retry_after=2.0),
        ProviderError("connection error", retryable=True),
        "answer",
    ]

    async def attempt() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    result = asyncio.run(with_retries(attempt, policy(), sleep=sleep))
    assert result == ("answer", 3)
    assert 2.0 <= sleeps[0] <= 2.2 and 0 <= sleeps[1] <= 1.0


def test_with_retries_fails_at_once_on_a_bad_request_and_says_so_after_many() -> None:
    calls = 0

    async def bad() -> str:
        nonlocal calls
        calls += 1
        raise status_error(401, "invalid key")

    async def no_sleep(seconds: float) -> None:
        return None

    with pytest.raises(ProviderError, match=r"HTTP 401: invalid key \(check the API key") as info:
        asyncio.run(with_retries(bad, policy(), sleep=no_sleep))
    assert calls == 1 and "gave up" not in str(info.value)

    async def down() -> str:
        raise status_error(503, "overloaded")

    with pytest.raises(ProviderError, match=r"HTTP 503: overloaded \(gave up after 3 attempts\)"):
        asyncio.run(with_retries(down, policy(retries=2), sleep=no_sleep))

    async def come_back_tomorrow() -> str:
        raise status_error(429, "quota", {"Retry-After": "86400"})

    with pytest.raises(ProviderError, match=r"asked to retry after 86400s, more than the 300s"):
        asyncio.run(with_retries(come_back_tomorrow, policy(), sleep=no_sleep))


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"retry-after": "0.25"}, 0.25),
        ({"retry-after-ms": "1500", "Retry-After": "9"}, 1.5),
        ({"Retry-After": "soon"}, None),
        ({}, None),
        (None, None),
    ],
)
def test_retry_after_header_forms(headers: dict[str, str] | None, expected: float | None) -> None:
    assert parse_retry_after(headers) == expected


def test_retry_after_as_an_http_date() -> None:
    date = email.utils.formatdate(time.time() + 30, usegmt=True)
    seconds = parse_retry_after({"Retry-After": date})
    assert seconds is not None and 25 <= seconds <= 31


def test_status_errors_say_whether_to_retry() -> None:
    assert status_error(429, "slow down", {"Retry-After": "2"}).retryable
    assert status_error(429, "slow down", {"Retry-After": "2"}).retry_after == 2.0
    assert status_error(502, "bad gateway").retryable
    for status in (400, 401, 403, 404, 422):
        assert not status_error(status, "no").retryable


def test_rate_limiter_spaces_request_starts_evenly() -> None:
    now = [100.0]
    starts: list[float] = []

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    limiter = RateLimiter(120, clock=lambda: now[0], sleep=sleep)  # one start per 0.5 s

    async def start() -> None:
        await limiter.wait()
        starts.append(now[0])

    async def main() -> None:
        for _ in range(5):
            await start()

    asyncio.run(main())
    assert starts == [100.0, 100.5, 101.0, 101.5, 102.0]


def test_rate_limiter_gives_concurrent_callers_distinct_slots() -> None:
    slots: list[float] = []

    async def record(seconds: float) -> None:
        slots.append(seconds)

    limiter = RateLimiter(60, clock=lambda: 0.0, sleep=record)

    async def main() -> None:
        await asyncio.gather(*(limiter.wait() for _ in range(4)))

    asyncio.run(main())
    assert sorted(slots) == [1.0, 2.0, 3.0]  # the first starts at once
