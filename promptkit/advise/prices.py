"""Per-token prices for the decision: what the user gave, else litellm's bundled price map
(base models and their ``ft:`` fine-tuned twins); USD per token here, per 1M on the CLI."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from promptkit.advise.model import PER_MILLION, Prices
from promptkit.run.pricing import FREE_PREFIXES, litellm_price_map

if TYPE_CHECKING:
    pass


_DATED = r"(-\d{4}-\d{2}-\d{2})?"


def _free(model: str) -> Prices | None:
    prefix = model.partition("/")[0]
    if prefix in FREE_PREFIXES:
        kind = "is scripted" if prefix == "mock" else "runs in process"
        return Prices(0.0, 0.0, f"{model} {kind}: 0 per call")
    return None


def _bare(model: str) -> list[str]:
    """Names to look up: the full name, then without the provider prefix."""
    names = [model]
    if "/" in model:
        names.append(model.partition("/")[2])
    return names


def model_prices(model: str) -> Prices:
    """Per-token prices of ``model`` from litellm's bundled price map (no network)."""
    free = _free(model)
    if free:
        return free
    table = litellm_price_map()
    for name in _bare(model):
        entry = table.get(name)
        if entry and "input_cost_per_token" in entry:
            return Prices(
                float(entry["input_cost_per_token"]),
                float(entry.get("output_cost_per_token") or 0.0),
                f"litellm price map entry {name!r}",
            )
    return Prices(
        None, None, f"{model} is not in litellm's price map: pass --input-price/--output-price"
    )


def finetuned_prices(model: str) -> Prices:
    """Inference prices of a fine-tuned ``model``: litellm's ``ft:<model>`` entries."""
    free = _free(model)
    if free:
        return free
    table = litellm_price_map()
    for name in _bare(model):
        pattern = re.compile(rf"^ft:{re.escape(name)}{_DATED}$")
        keys = sorted(k for k in table if pattern.match(k))
        if keys:
            entry = table[keys[-1]]  # the latest dated snapshot
            return Prices(
                float(entry["input_cost_per_token"]),
                float(entry.get("output_cost_per_token") or 0.0),
                f"litellm price map entry {keys[-1]!r}",
            )
    return Prices(
        None,
        None,
        f"litellm's price map has no ft:{_bare(model)[-1]} entry: pass "
        "--ft-input-price/--ft-output-price",
    )


@dataclass(frozen=True)
class PriceOptions:
    """Prices given by the user, USD per 1M tokens; ``None``: look them up."""

    input: float | None = None
    output: float | None = None
    ft_input: float | None = None
    ft_output: float | None = None
    training: float | None = None


def resolve_prices(
    model: str,
    lookup: Callable[[str], Prices],
    given: tuple[float | None, float | None],
    flags: str,
) -> Prices:
    """Prices the user gave (per 1M tokens) win; litellm's map fills in the rest."""
    input, output = given
    if input is not None and output is not None:
        return Prices(input / PER_MILLION, output / PER_MILLION, f"given by {flags} (per 1M)")
    found = lookup(model)
    if input is None and output is None:
        return found
    return Prices(
        input / PER_MILLION if input is not None else found.input,
        output / PER_MILLION if output is not None else found.output,
        f"partly given by {flags} (per 1M); the rest: {found.source}",
    )


def resolve_finetuned_prices(model: str, base: Prices, prices: PriceOptions) -> Prices:
    given = (prices.ft_input, prices.ft_output)
    if _free(model) and base.input and given == (None, None):
        # A local model priced as a hosted one: its fine-tuned twin costs at least as much.
        return Prices(
            base.input,
            base.output,
            "assumed equal to the given base prices (hosted fine-tuned models usually cost "
            "more: pass --ft-input-price/--ft-output-price)",
        )
    return resolve_prices(model, finetuned_prices, given, "--ft-input/--ft-output-price")
