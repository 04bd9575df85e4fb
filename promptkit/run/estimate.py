"""The dry run: render every case and estimate what a run would send and cost."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from promptkit.paths import DEFAULT_ROOT, runs_root
from promptkit.providers import Request
from promptkit.run.caller import Caller, RunOptions, with_api_base
from promptkit.run.plan import Planner, estimate_tokens
from promptkit.run.preflight import refuse_unhonoured
from promptkit.run.pricing import Budget, PriceBook
from promptkit.suite import Suite

__all__ = ["DryRun", "dry_run"]


@dataclass(frozen=True)
class DryRun:
    """What a run would send, estimated without calling any model."""

    requests: int
    cached: int  # answered from the cache, costing nothing
    prompt_tokens: int  # estimated (about four characters a token), uncached requests
    cost: float | None  # prompt tokens at input prices; None when a model has no price
    max_output_cost: float | None  # ceiling for answers at max_tokens; None when unbounded
    unpriced: tuple[str, ...]


def dry_run(
    suite: Suite, options: RunOptions | None = None, *, root: str | Path = DEFAULT_ROOT
) -> DryRun:
    """Render every case and estimate requests, prompt tokens and cost; call nothing."""
    root = runs_root(root, suite=suite.path)  # the cache a run of this suite would use
    settings = options or RunOptions()
    suite = with_api_base(suite, settings.api_base)
    planner = Planner(suite, limit=settings.limit, shard=settings.shard)
    planner.check_renders()
    refuse_unhonoured(suite)  # a response_format or tools the model would ignore
    # The caller looks the cache up exactly as a run would; it never sends anything.
    # the dry run only looks the cache up: no Ray cluster, no actors
    caller = Caller(
        suite, replace(settings, executor="local", ray_address=None), Budget(None), root
    )
    tally = _DryTally()
    try:
        for plan in planner.cases():
            _, hit = caller.lookup(plan.request)
            tally.add(plan.request, caller.prices, hit is not None)
    finally:
        if caller.cache is not None:
            caller.cache.close()
    return tally.result()


class _DryTally:
    def __init__(self) -> None:
        self.requests = self.cached = self.prompt_tokens = 0
        self.cost: float = 0.0
        self.output_cost: float | None = 0.0
        self.unpriced: dict[str, None] = {}

    def add(self, request: Request, prices: PriceBook, cached: bool) -> None:
        self.requests += 1
        if cached:
            self.cached += 1
            return
        tokens = estimate_tokens(request.messages)
        self.prompt_tokens += tokens
        price = prices.price(request.model)
        if price is None:
            self.unpriced[request.model] = None
            return
        self.cost += tokens * price.input
        max_tokens = request.params.get("max_tokens")
        if max_tokens is None or self.output_cost is None:
            self.output_cost = None
        else:
            self.output_cost += int(max_tokens) * price.output

    def result(self) -> DryRun:
        priced = not self.unpriced
        return DryRun(
            requests=self.requests,
            cached=self.cached,
            prompt_tokens=self.prompt_tokens,
            cost=self.cost if priced else None,
            max_output_cost=self.output_cost if priced else None,
            unpriced=tuple(self.unpriced),
        )
