"""Few-shot example selection from a separate example pool.

Examples never come from the rows being scored: a pool row whose id, or whose
input text, matches an evaluation row is removed before any selection. Every
strategy is deterministic: the same row, k and settings give the same examples.

Strategies rank the pool for one row, then take the first k of that ranking:
  first       pool order
  random      a shuffle seeded by (seed, row id)
  stratified  round robin over the label column, each label shuffled as above
  similar     BM25 similarity between the row's input and each example's input;
              the most similar example is placed last, nearest the question
A token budget then keeps the longest prefix of those k that fits (many-shot).
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from promptkit.define.datasets import Dataset, Row
from promptkit.define.retrieval import BM25, top_k
from promptkit.define.validate import (
    Where,
    choice,
    known_keys,
    non_negative_int,
    positive_int,
    seed_value,
)
from promptkit.errors import SuiteError

__all__ = ["SHOT_KEYS", "STRATEGIES", "ShotSelector", "ShotSettings", "ShotSpec", "read_shots"]

STRATEGIES = ("first", "random", "stratified", "similar")
SHOT_KEYS = ("k", "strategy", "seed", "token_budget")
#: Beyond these, a number is a typo, not a prompt: no context holds 10,000 examples.
MAX_SHOTS = 10_000
MAX_TOKEN_BUDGET = 10_000_000


@dataclass(frozen=True)
class ShotSettings:
    strategy: str = "first"
    seed: int = 0
    token_budget: int | None = None

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise SuiteError(
                f"unknown shot strategy {self.strategy!r}",
                hint=f"use one of: {', '.join(STRATEGIES)}",
            )


@dataclass(frozen=True)
class ShotSpec:
    """Shot counts (``None``: as many as fit the token budget) and how to choose them."""

    counts: tuple[int | None, ...]
    settings: ShotSettings


def read_shots(value: Any, where: Where, *, seed: int = 0) -> ShotSpec:
    """``shots`` as written: ``4``, ``[0, 4]`` or ``{k, strategy, seed, token_budget}``."""
    spec = value if isinstance(value, dict) else {"k": value}
    known_keys(spec, SHOT_KEYS, where, what="shots key")
    counts_at = where.at("k") if isinstance(value, dict) else where
    counts = _shot_counts(spec.get("k", [0]), counts_at)
    budget = spec.get("token_budget")
    if budget is not None:
        budget = positive_int(budget, where.at("token_budget"), cap=MAX_TOKEN_BUDGET)
    if None in counts and budget is None:
        raise where.fail("k: max needs a token_budget", "add shots.token_budget")
    settings = ShotSettings(
        strategy=choice(spec.get("strategy", "first"), STRATEGIES, where.at("strategy")),
        seed=seed_value(spec["seed"], where.at("seed")) if "seed" in spec else seed,
        token_budget=budget,
    )
    return ShotSpec(counts, settings)


def _shot_counts(value: Any, where: Where) -> tuple[int | None, ...]:
    values = value if isinstance(value, list) else [value]
    if not values:
        raise where.fail("no shot count given", "e.g. shots: [0, 4]")
    counts: list[int | None] = []
    for index, k in enumerate(values):
        place = where.at(index) if isinstance(value, list) else where
        hint = f"use integers from 0 to {MAX_SHOTS}, or max: as many as the token budget fits"
        count = None if k == "max" else non_negative_int(k, place, cap=MAX_SHOTS, hint=hint)
        if count in counts:
            raise place.fail(f"shot count {k!r} is listed twice", "list each count once")
        counts.append(count)
    return tuple(counts)


def _normalise(text: str) -> str:
    return " ".join(text.lower().split())


class ShotSelector:
    """Chooses examples from ``pool`` for rows of a dataset, never the rows themselves."""

    def __init__(
        self,
        pool: Dataset,
        settings: ShotSettings,
        *,
        input_columns: Sequence[str],
        label_column: str | None,
        exclude: Iterable[Row] = (),
    ) -> None:
        self.settings = settings
        self.input_columns = tuple(input_columns)
        self.label_column = label_column
        excluded = list(exclude)
        banned_ids = {r.id for r in excluded}
        banned_text = {self._text(r) for r in excluded}
        self.pool = [r for r in pool if r.id not in banned_ids and self._text(r) not in banned_text]
        self.removed = len(pool) - len(self.pool)
        self._bm25: BM25 | None = None
        if settings.strategy == "stratified" and not label_column:
            raise SuiteError("stratified shots need a label column", hint="set 'reference'")

    def _text(self, row: Row) -> str:
        return _normalise(" ".join(str(row.data.get(c, "")) for c in self.input_columns))

    def select(
        self,
        row: Row,
        k: int | None,
        fits: Callable[[Sequence[Row]], bool] | None = None,
    ) -> list[Row]:
        """The examples for ``row``: at most ``k`` (``None``: as many as fit the budget)."""
        if k == 0 or not self.pool:
            return []
        ranked = self._rank(row)
        chosen = ranked if k is None else ranked[:k]
        if fits is not None and self.settings.token_budget is not None:
            chosen = chosen[: _longest_fitting_prefix(chosen, fits)]
        if self.settings.strategy == "similar":
            chosen = list(reversed(chosen))
        return chosen

    def _rank(self, row: Row) -> list[Row]:
        strategy = self.settings.strategy
        if strategy == "first":
            return list(self.pool)
        rng = random.Random(f"{self.settings.seed}:{row.id}")
        if strategy == "random":
            return rng.sample(self.pool, len(self.pool))
        if strategy == "stratified":
            return self._stratified(rng)
        return self._similar(row)

    def _stratified(self, rng: random.Random) -> list[Row]:
        groups: dict[str, list[Row]] = defaultdict(list)
        for example in self.pool:
            groups[str(example.data.get(self.label_column or "", ""))].append(example)
        queues = [rng.sample(g, len(g)) for _, g in sorted(groups.items())]
        rng.shuffle(queues)
        ranked: list[Row] = []
        while any(queues):
            for queue in queues:
                if queue:
                    ranked.append(queue.pop(0))
        return ranked

    def _similar(self, row: Row) -> list[Row]:
        if self._bm25 is None:
            self._bm25 = BM25([self._text(r) for r in self.pool])
        ranked = top_k(self._bm25.scores(self._text(row)), len(self.pool))
        return [self.pool[i] for i, _ in ranked]


def _longest_fitting_prefix(chosen: Sequence[Row], fits: Callable[[Sequence[Row]], bool]) -> int:
    """Binary search: prompt length grows with every example added."""
    low, high = 0, len(chosen)
    while low < high:
        middle = (low + high + 1) // 2
        if fits(chosen[:middle]):
            low = middle
        else:
            high = middle - 1
    return low
