"""Sending one request: cache, model lane, budget, retries with a timeout, price.

    cache hit? ──yes──► answer (original latency and cost, marked cached)
        │no
    model lane: breaker open? ──yes──► "not asked" error (see run/breaker.py)
        │no
    concurrency slot (fixed, or an adaptive window: run/adaptive.py), rpm pacing
        │
    budget left? ──no──► BudgetReached: the case is left for a resume
        │
    retries(timeout(provider.complete)) ──► price ──► cache ──► answer

The runner sends every case and every scorer's model call through one
:class:`Caller`; the dry run uses it to look the cache up exactly as a run would.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from promptkit.define.validate import Where, concurrency
from promptkit.errors import BadInput, ProviderError
from promptkit.paths import DEFAULT_ROOT, runs_root
from promptkit.providers import Completion, Provider, Request, get_provider
from promptkit.providers.base import provider_factory
from promptkit.run.adaptive import AUTO, AdaptiveLimit, AdaptiveSlots, Ticket
from promptkit.run.breaker import Breaker
from promptkit.run.cache import ResponseCache, cache_key
from promptkit.run.pricing import Budget, PriceBook
from promptkit.run.ratelimit import RateLimiter
from promptkit.run.retry import RetryPolicy, with_retries
from promptkit.run.shards import Shard
from promptkit.suite import MAX_CONCURRENCY, ModelSpec, Suite

__all__ = ["EXECUTORS", "Caller", "RunOptions", "default_cache_path", "with_api_base"]

#: Where in-process models run: in this process, or on Ray actors.
EXECUTORS = ("local", "ray")


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    """How to run a suite; ``None`` means: the suite's setting, else the default.

    ``RunOptions(limit=10, cache=False)``: every field is keyword-only.
    """

    limit: int | None = None
    concurrency: int | Literal["auto"] | None = None  # requests in flight per model
    rpm: float | None = None  # requests started per minute per model
    timeout: float | None = None  # seconds per attempt
    retries: int | None = None  # attempts after the first
    cache: bool | str | Path = True  # False: no cache; a path: that SQLite file
    refresh: bool = False  # ask again and overwrite cached answers
    max_cost: float | None = None  # dollars; no new requests once spent
    api_base: str | None = None  # endpoint for every model of the run
    resume: bool | str | Path = False  # True: the suite's latest run; else a run id
    shard: Shard | None = None  # only this shard's rows (promptkit.run.shards)
    executor: str = "local"  # "ray": in-process models on Ray actors (run/ray_executor.py)
    ray_address: str | None = None  # an existing Ray cluster; None: RAY_ADDRESS or a local one


def default_cache_path(root: str | Path = DEFAULT_ROOT) -> Path:
    """``.promptkit/cache/responses.sqlite`` beside ``.promptkit/runs``."""
    return runs_root(root).parent / "cache" / "responses.sqlite"


def _open_cache(options: RunOptions, root: str | Path) -> ResponseCache | None:
    if options.cache is False:
        return None
    path = default_cache_path(root) if options.cache is True else Path(options.cache)
    return ResponseCache(path)


class _Lane:
    """One model: its provider, a bound on requests in flight, optional pacing, a breaker.

    ``width`` is a fixed bound, or ``"auto"``: a window between 1 and the provider's
    default that follows the server (:mod:`promptkit.run.adaptive`); ``width`` is then
    the most it may reach.
    """

    def __init__(self, provider: Provider, width: int | str, rpm: float | None) -> None:
        self.provider = provider
        self.breaker = Breaker(provider.model)
        self.adaptive: AdaptiveSlots | None = None
        self.slots: asyncio.Semaphore | AdaptiveSlots
        if width == AUTO:
            self.width = int(provider.default_concurrency)
            self.adaptive = self.slots = AdaptiveSlots(AdaptiveLimit(maximum=self.width))
        else:
            self.width = int(width)
            self.slots = asyncio.Semaphore(self.width)
        self.limiter = RateLimiter(rpm) if rpm else None
        self.api_base: str | None = getattr(provider, "api_base", None) or provider.options.get(
            "api_base"
        )
        self.cacheable = provider.cacheable
        self.wire = provider.wire_options()


class Caller:
    """Sends requests: cache, lane, budget, retries and timeout, then prices the answer."""

    def __init__(self, suite: Suite, options: RunOptions, budget: Budget, root: str | Path) -> None:
        self.suite, self.options, self.budget = suite, options, budget
        self.timeout = options.timeout or suite.timeout
        retries = options.retries if options.retries is not None else suite.retries
        self.policy = RetryPolicy() if retries is None else RetryPolicy(retries=retries)
        self.prices = PriceBook(suite.prices)
        self.lanes: dict[str, _Lane] = {}
        for model in suite.models:  # a bad model name fails here, before anything opens
            self.lanes[model.name] = self._lane(model)
        self.cache = _open_cache(options, root)

    def _lane(self, model: ModelSpec) -> _Lane:
        provider = self._provider(model)
        if self.options.concurrency is not None:  # suites are checked when they load
            where = Where(key="concurrency", error=BadInput)
            concurrency(self.options.concurrency, where, cap=MAX_CONCURRENCY)
        width = (
            self.options.concurrency
            or model.options.get("concurrency")
            or self.suite.concurrency
            or provider.default_concurrency
        )
        rpm = self.options.rpm or model.options.get("rpm") or self.suite.rpm
        return _Lane(provider, width, rpm)

    def _provider(self, model: ModelSpec) -> Provider:
        """The model's provider; an in-process model on Ray actors with ``--executor ray``."""
        if self.options.ray_address and self.options.executor != "ray":
            raise BadInput("--ray-address needs --executor ray", hint="add --executor ray")
        if self.options.executor not in EXECUTORS:
            raise BadInput(
                f"unknown executor {self.options.executor!r}", hint=f"use one of: {EXECUTORS}"
            )
        in_process = bool(getattr(provider_factory(model.name), "in_process", False))
        if self.options.executor == "ray" and in_process:
            from promptkit.run.ray_executor import RayModelPool

            return RayModelPool(model.name, model.options, address=self.options.ray_address)
        return get_provider(model.name, model.options)

    def lane(self, model: str) -> _Lane:
        """The lane for ``model``; scorers may call models the suite does not list."""
        if model not in self.lanes:
            self.lanes[model] = self._lane(ModelSpec(model))
        return self.lanes[model]

    def lookup(self, request: Request) -> tuple[str | None, Completion | None]:
        """The request's cache key (None: not cached) and the cached answer, if any."""
        lane = self.lane(request.model)
        if self.cache is None or not lane.cacheable:
            return None, None
        key = cache_key(request, lane.api_base, lane.wire)
        return key, None if self.options.refresh else self.cache.get(key)

    async def __call__(self, request: Request) -> tuple[Completion, int]:
        """The answer and the number of attempts it took (0 for a cache hit)."""
        key, hit = self.lookup(request)
        if hit is not None:
            return hit, 0
        lane = self.lane(request.model)
        lane.breaker.check()
        async with lane.slots:
            lane.breaker.check()  # it may have opened while this case waited for a slot
            completion, attempts = await with_retries(
                lambda: self._attempt(lane, request),
                self.policy,
                stop=lane.breaker.stop_retrying,
            )
        completion.cost = self.prices.cost(
            request.model, completion.prompt_tokens, completion.completion_tokens, completion.cost
        )
        self.budget.spent += completion.cost or 0.0
        if key is not None:
            assert self.cache is not None
            self.cache.put(key, request.model, completion)
        return completion, attempts

    async def _attempt(self, lane: _Lane, request: Request) -> Completion:
        self.budget.check()
        if lane.limiter is not None:
            await lane.limiter.wait()
        adaptive = lane.adaptive
        ticket: Ticket | None = None if adaptive is None else adaptive.start()
        try:
            completion = await _within(self.timeout, lane.provider.complete(request))
        except asyncio.TimeoutError:
            if adaptive is not None and ticket is not None:
                adaptive.failed(ticket, None)
            raise ProviderError(f"timed out after {self.timeout:g}s", retryable=True) from None
        except ProviderError as error:
            if adaptive is not None and ticket is not None:
                adaptive.failed(ticket, error)
            lane.breaker.failed(error)
            raise
        if adaptive is not None and ticket is not None:
            adaptive.answered(ticket)
        lane.breaker.succeeded()
        return completion

    def windows(self) -> dict[str, dict[str, Any]]:
        """Per model with ``concurrency: auto``, the window it settled on (AdaptiveLimit.record)."""
        return {
            model: lane.adaptive.limit.record()
            for model, lane in self.lanes.items()
            if lane.adaptive is not None
        }

    def stopped(self) -> str | None:
        """Why some models were no longer asked (their breakers opened); None if none."""
        reasons = [lane.breaker.reason for lane in self.lanes.values() if lane.breaker.reason]
        return "; ".join(f"no longer asked: {r}" for r in reasons) or None

    async def close(self) -> None:
        """Close every provider, then the cache, whatever one provider's close raises:
        the cache holds answers that were paid for."""
        try:
            for lane in self.lanes.values():
                await lane.provider.aclose()
        finally:
            if self.cache is not None:
                self.cache.close()


async def _within(seconds: float, call: Coroutine[Any, Any, Completion]) -> Completion:
    """``call`` with a deadline; asyncio.timeout (3.11+) spares wait_for's extra task."""
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(seconds):
            return await call
    return await asyncio.wait_for(call, seconds)


def with_api_base(suite: Suite, api_base: str | None) -> Suite:
    """``suite`` with every model pointed at ``api_base`` (``--api-base``)."""
    if not api_base:
        return suite
    models = tuple(ModelSpec(m.name, {**m.options, "api_base": api_base}) for m in suite.models)
    return replace(suite, models=models)
