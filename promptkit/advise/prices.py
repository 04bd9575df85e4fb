"""Per-token prices for the decision: what the user gave, else litellm's bundled price map
(base models and their ``ft:`` fine-tuned twins); USD per token here, per 1M on the CLI.

The lookup itself is ``run.pricing``'s, the one home of a model's price; this module adds
what the decision needs on top: the user's flags, and a source line for every price."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from promptkit.advise.model import Prices
from promptkit.run.pricing import (
    PER_MILLION,
    Price,
    finetuned_map_price,
    is_free,
    map_names,
    map_price,
)


def _free(model: str) -> Prices | None:
    if is_free(model):
        kind = "is scripted" if model.partition("/")[0] == "mock" else "runs in process"
        return Prices(0.0, 0.0, f"{model} {kind}: 0 per call")
    return None


def _looked_up(
    model: str, lookup: Callable[[str], tuple[str, Price] | None], missing: str
) -> Prices:
    """``model``'s prices from ``lookup`` (a price map entry), 0 when it runs here."""
    free = _free(model)
    if free:
        return free
    found = lookup(model)
    if found is None:
        return Prices(None, None, missing)
    entry, price = found
    return Prices(price.input, price.output, f"litellm price map entry {entry!r}")


def model_prices(model: str) -> Prices:
    """Per-token prices of ``model`` from litellm's bundled price map (no network)."""
    return _looked_up(
        model,
        map_price,
        f"{model} is not in litellm's price map: pass --input-price/--output-price",
    )


def finetuned_prices(model: str) -> Prices:
    """Inference prices of a fine-tuned ``model``: litellm's ``ft:<model>`` entries."""
    return _looked_up(
        model,
        finetuned_map_price,
        f"litellm's price map has no ft:{map_names(model)[-1]} entry: pass "
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
