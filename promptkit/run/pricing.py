"""What a call costs: the suite's own prices, else litellm's offline price map.

Order of authority for one completion:

1. the suite's ``prices`` entry for the model (for models litellm does not know,
   or negotiated rates), in dollars per million tokens::

       prices:
         oai/my-finetune: {input_per_1m: 0.30, output_per_1m: 1.20}

2. the cost the provider reported (litellm prices its own calls);
3. litellm's price map, read from the JSON file litellm ships (never from the
   network, and without importing litellm, which takes seconds);
4. unknown: ``None``, never a guess. ``local/`` and ``mock/`` models cost 0.

A :class:`Budget` stops a run from sending new requests once it has spent
``max_cost`` (``--max-cost``).
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

__all__ = [
    "FREE_PREFIXES",
    "Budget",
    "BudgetReached",
    "Price",
    "PriceBook",
    "litellm_price_map",
    "training_price_unknown",
]

#: Prefixes whose models run on this machine and cost nothing per call.
FREE_PREFIXES = ("local", "mock", "hf")
_PRICE_MAP_FILE = "model_prices_and_context_window_backup.json"


def training_price_unknown(needed_for: str) -> str:
    """Why a training cost is missing, and the fix; ``needed_for`` says what it would give."""
    return (
        "litellm's price map has no fine-tuning training prices: pass --training-price "
        f"(USD per 1M training tokens) for {needed_for}"
    )


@dataclass(frozen=True)
class Price:
    """Dollars per token."""

    input: float
    output: float

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return prompt_tokens * self.input + completion_tokens * self.output


@cache
def litellm_price_map() -> Mapping[str, Any]:
    """litellm's bundled price map, or an empty one when litellm is not installed."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or spec.origin is None:
        return {}
    path = Path(spec.origin).parent / _PRICE_MAP_FILE
    try:
        data: Mapping[str, Any] = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data


def _from_map(model: str) -> Price | None:
    table = litellm_price_map()
    _, _, bare = model.partition("/")
    for name in (model, bare):
        entry = table.get(name)
        if isinstance(entry, Mapping) and "input_cost_per_token" in entry:
            return Price(
                float(entry.get("input_cost_per_token") or 0.0),
                float(entry.get("output_cost_per_token") or 0.0),
            )
    return None


class PriceBook:
    """Prices for the models of one run; lookups are cached per model name."""

    def __init__(self, overrides: Mapping[str, Mapping[str, float]] | None = None) -> None:
        self.overrides = {
            name: Price(
                float(p.get("input_per_1m", 0.0)) / 1e6, float(p.get("output_per_1m", 0.0)) / 1e6
            )
            for name, p in (overrides or {}).items()
        }
        self._known: dict[str, Price | None] = {}

    def price(self, model: str) -> Price | None:
        if model not in self._known:
            self._known[model] = self._lookup(model)
        return self._known[model]

    def _lookup(self, model: str) -> Price | None:
        if model in self.overrides:
            return self.overrides[model]
        if model.partition("/")[0] in FREE_PREFIXES:
            return Price(0.0, 0.0)
        return _from_map(model)

    def cost(
        self, model: str, prompt_tokens: int, completion_tokens: int, reported: float | None
    ) -> float | None:
        """The cost of one completion; the suite's price beats the provider's report."""
        if model in self.overrides:
            return self.overrides[model].cost(prompt_tokens, completion_tokens)
        if reported is not None:
            return reported
        price = self.price(model)
        return price.cost(prompt_tokens, completion_tokens) if price is not None else None


class BudgetReached(Exception):
    """Raised instead of sending a request once the run's budget is spent."""


class Budget:
    """Money spent by this run on new answers; cache hits were paid for earlier."""

    def __init__(self, max_cost: float | None) -> None:
        self.max_cost = max_cost
        self.spent = 0.0

    @property
    def reached(self) -> bool:
        return self.max_cost is not None and self.spent >= self.max_cost

    def check(self) -> None:
        if self.reached:
            raise BudgetReached

    def reason(self) -> str | None:
        """Why the run stopped early, or None when it did not."""
        if not self.reached:
            return None
        return (
            f"max_cost ${self.max_cost:.4f} reached (spent ${self.spent:.4f}); "
            "resume the run to ask the remaining cases"
        )
