"""The fine-tuning decision: what prompting buys, what tuning would cost, and when it pays.

model.py       the decision's inputs and outputs (frozen dataclasses)
decision.py    ``decide``: pure arithmetic on those inputs, no I/O
finetune.py    its fine-tuning branch: assumed, or measured on the run's tuned/ variants
measure.py     ``measure_run``: a stored run as the decision's figures
prices.py      per-token prices: given by the user, else litellm's price map
run_advice.py  ``advise_run``: measure, price and decide in one call
"""

from promptkit.advise.decision import decide
from promptkit.advise.measure import Measurements, measure_run
from promptkit.advise.model import (
    ACTIONS,
    FINETUNE_MIN_EXAMPLES,
    Advice,
    AdviceInputs,
    FineTuneFigures,
    MeasuredTuning,
    Prices,
    ShotStep,
    StepAdvice,
    TuningFigures,
    VariantAdvice,
    VariantFigures,
    months,
    usd,
)
from promptkit.advise.prices import PriceOptions, finetuned_prices, model_prices
from promptkit.advise.run_advice import advise_run

__all__ = [
    "ACTIONS",
    "FINETUNE_MIN_EXAMPLES",
    "Advice",
    "AdviceInputs",
    "FineTuneFigures",
    "MeasuredTuning",
    "Measurements",
    "PriceOptions",
    "Prices",
    "ShotStep",
    "StepAdvice",
    "TuningFigures",
    "VariantAdvice",
    "VariantFigures",
    "advise_run",
    "decide",
    "finetuned_prices",
    "measure_run",
    "model_prices",
    "months",
    "usd",
]
