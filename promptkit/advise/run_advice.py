"""``advise_run``: measure a stored run, price it, and decide (see ``decision.decide``)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from promptkit.advise.decision import decide
from promptkit.advise.measure import measure_run
from promptkit.advise.model import Advice, AdviceInputs
from promptkit.advise.prices import (
    PriceOptions,
    model_prices,
    resolve_finetuned_prices,
    resolve_prices,
)
from promptkit.paths import DEFAULT_ROOT
from promptkit.run.pricing import PER_MILLION, training_price_unknown

TRAINING_PRICE_UNKNOWN = training_price_unknown("the one-off cost and the break-even volume")

_NO_PRICES = PriceOptions()  # frozen, so one shared default is safe


def advise_run(
    run: str | Path | None = None,
    *,
    metric: str | None = None,
    volume: float | None = None,
    labelled: int | None = None,
    target: float | None = None,
    prices: PriceOptions = _NO_PRICES,
    epochs: int = 3,
    payback_months: float = 12.0,
    hosting_cost: float | None = None,
    root: str | Path = DEFAULT_ROOT,
) -> Advice:
    """Measure a stored run, price it, and decide; see :func:`decide` for the rules."""
    measured = measure_run(run, metric=metric, root=root)
    models = sorted({v.model for v in measured.variants})
    given = labelled if labelled is not None else measured.pool_size
    base = {
        m: resolve_prices(m, model_prices, (prices.input, prices.output), "--input/--output-price")
        for m in models
    }
    inputs = AdviceInputs(
        metric=measured.metric,
        variants=measured.variants,
        steps=measured.steps,
        labelled=given or 0,
        volume=volume,
        target=target,
        prices=base,
        ft_prices={m: resolve_finetuned_prices(m, base[m], prices) for m in models},
        training_price=None if prices.training is None else prices.training / PER_MILLION,
        training_price_source="given by --training-price (per 1M tokens)"
        if prices.training is not None
        else TRAINING_PRICE_UNKNOWN,
        epochs=epochs,
        payback_months=payback_months,
        strategy=measured.strategy,
        majority=measured.majority,
        hosting_cost=hosting_cost,
        suite=measured.suite_path,
    )
    advice = decide(inputs)
    notes = list(measured.notes) if labelled is None else []
    return replace(advice, run=measured.run_id, notes=[*notes, *advice.notes])
