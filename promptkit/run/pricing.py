"""What a call costs: the suite's own prices, else litellm's offline price map.

Order of authority for one completion:

1. the suite's ``prices`` entry for the model (for models litellm does not know,
   or negotiated rates), in dollars per million tokens::

       prices:
         oai/my-finetune: {input_per_1m: 0.30, output_per_1m: 1.20}

2. the cost the provider reported (litellm prices its own calls);
3. litellm's price map, read from the JSON file litellm ships (never from the
   network, and without importing litellm, which takes seconds); its ``ft:``
   entries price a model's fine-tuned twin for ``advise``;
4. unknown: ``None``, never a guess. ``local/`` and ``mock/`` models cost 0.

A :class:`Budget` stops a run from sending new requests once it has spent
``max_cost`` (``--max-cost``).
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

__all__ = [
    "FREE_PREFIXES",
    "PER_MILLION",
    "Budget",
    "BudgetReached",
    "Price",
    "PriceBook",
    "finetuned_map_price",
    "is_free",
    "litellm_price_map",
    "map_names",
    "map_price",
    "training_price_unknown",
]

#: Prices are given per million tokens (suite files, CLI flags) and kept per token.
PER_MILLION = 1_000_000
#: Prefixes whose models run on this machine and cost nothing per call.
FREE_PREFIXES = ("local", "mock", "hf", "tuned")
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


def is_free(model: str) -> bool:
    """Whether ``model`` runs on this machine (or is scripted) and so costs 0 per call."""
    return model.partition("/")[0] in FREE_PREFIXES


def map_names(model: str) -> list[str]:
    """Names to look ``model`` up by: the full name, then without the provider prefix."""
    names = [model]
    if "/" in model:
        names.append(model.partition("/")[2])
    return names


def _entry_price(entry: Mapping[str, Any]) -> Price:
    return Price(
        float(entry.get("input_cost_per_token") or 0.0),
        float(entry.get("output_cost_per_token") or 0.0),
    )


def map_price(model: str) -> tuple[str, Price] | None:
    """litellm's price of ``model`` and the name of the entry it came from; None: unknown."""
    table = litellm_price_map()
    for name in map_names(model):
        entry = table.get(name)
        if isinstance(entry, Mapping) and "input_cost_per_token" in entry:
            return name, _entry_price(entry)
    return None


_DATED = r"(-\d{4}-\d{2}-\d{2})?"


def finetuned_map_price(model: str) -> tuple[str, Price] | None:
    """litellm's price of ``model`` fine-tuned: its latest ``ft:<model>[-YYYY-MM-DD]`` entry."""
    table = litellm_price_map()
    for name in map_names(model):
        pattern = re.compile(rf"^ft:{re.escape(name)}{_DATED}$")
        keys = sorted(k for k in table if pattern.match(k))
        if keys:
            return keys[-1], _entry_price(table[keys[-1]])  # the latest dated snapshot
    return None


class PriceBook:
    """Prices for the models of one run; lookups are cached per model name."""

    def __init__(self, overrides: Mapping[str, Mapping[str, float]] | None = None) -> None:
        self.overrides = {
            name: Price(
                float(p.get("input_per_1m", 0.0)) / PER_MILLION,
                float(p.get("output_per_1m", 0.0)) / PER_MILLION,
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
        if is_free(model):
            return Price(0.0, 0.0)
        found = map_price(model)
        return found[1] if found is not None else None

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
