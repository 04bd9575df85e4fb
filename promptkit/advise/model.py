"""The decision's inputs and outputs as frozen dataclasses, and the constants its rules use."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from promptkit.define.retrieval import docs_part
from promptkit.results.baselines import LabelBaseline, VersusMajority
from promptkit.results.stats import Estimate, PairedDifference

# "Fewer than about 100 labelled examples: prompt engineering; hundreds to thousands:
# fine-tuning is worth trying."
FINETUNE_MIN_EXAMPLES = 100
# "rework-prompt": no variant beats the trivial answer, so there is nothing to keep yet.
ACTIONS = ("keep", "add-shots", "remove-shots", "similar-shots", "fine-tune", "rework-prompt")


# -- inputs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Prices:
    """USD per token, ``None`` where unknown; ``source`` says where they came from."""

    input: float | None
    output: float | None
    source: str

    def per_call(self, prompt_tokens: float, completion_tokens: float) -> float | None:
        if self.input is None or self.output is None:
            return None
        return prompt_tokens * self.input + completion_tokens * self.output


@dataclass(frozen=True)
class TuningFigures:
    """What ``promptkit tune`` measured while training a tuned variant (its manifest)."""

    method: str  # prompt-tuning | prefix-tuning | lora
    base: str  # the hf/ model it was trained on
    examples: int  # labelled examples trained on
    training_tokens: float | None  # tokens processed in training, every epoch
    wall_s: float | None
    device: str


@dataclass(frozen=True)
class VariantFigures:
    """What a run measured for one variant (means per call, error rows excluded)."""

    variant: str
    prompt: str
    model: str
    shots: float  # examples actually sent per call, on average
    score: Estimate
    prompt_tokens: float
    completion_tokens: float
    #: row id -> score (mean of repeats): pairs variants for the cost-quality front
    rows: Mapping[str, float] = field(default_factory=dict)
    #: label tasks: this variant against always answering the majority label, paired
    versus_majority: VersusMajority | None = None
    #: a ``tuned/`` model: what training it measured
    tuning: TuningFigures | None = None

    @property
    def line(self) -> tuple[str, str, str]:
        """Prompt, model and passages retrieved: what stays fixed along a shots curve."""
        return self.prompt, self.model, docs_part(self.variant)


@dataclass(frozen=True)
class ShotStep:
    """Two shot counts of one prompt and model, compared on the same rows."""

    prompt: str
    model: str
    variant_from: str
    variant_to: str
    k_from: float
    k_to: float
    gain: PairedDifference  # score(k_to) - score(k_from), paired

    @property
    def line(self) -> tuple[str, str, str]:
        """Prompt, model and passages retrieved: a step changes the shots only."""
        return self.prompt, self.model, docs_part(self.variant_from)


@dataclass(frozen=True)
class AdviceInputs:
    metric: str
    variants: tuple[VariantFigures, ...]
    steps: tuple[ShotStep, ...] = ()
    labelled: int = 0
    volume: float | None = None  # calls per month
    target: float | None = None
    prices: Mapping[str, Prices] = field(default_factory=dict)  # model -> its prices
    ft_prices: Mapping[str, Prices] = field(default_factory=dict)  # model -> fine-tuned prices
    training_price: float | None = None  # USD per training token
    training_price_source: str = ""
    epochs: int = 3
    payback_months: float = 12.0
    strategy: str = "first"  # how the run chose its shots
    #: label tasks: the majority-class and chance rates a variant must beat to be kept
    majority: LabelBaseline | None = None
    #: USD per month to serve a tuned adapter yourself (None: price it as a hosted one)
    hosting_cost: float | None = None
    suite: str | None = None  # the suite's path, for the commands the advice names

    def prices_of(self, model: str) -> Prices:
        return self.prices.get(model) or Prices(None, None, f"no price for {model}")

    def ft_prices_of(self, model: str) -> Prices:
        return self.ft_prices.get(model) or Prices(None, None, f"no fine-tuned price for {model}")


# -- outputs ----------------------------------------------------------------------------


@dataclass(frozen=True)
class VariantAdvice:
    figures: VariantFigures
    cost_per_call: float | None
    cost_per_month: float | None
    reaches: bool | None  # point estimate >= target
    clears: bool | None  # lower end of the 95% interval >= target
    dominated_by: str | None = None  # a cheaper variant not significantly worse


@dataclass(frozen=True)
class StepAdvice:
    step: ShotStep
    extra_prompt_tokens: float  # per call
    extra_cost_per_call: float | None
    extra_cost_per_month: float | None
    gain_per_shot: float
    pays: bool
    why: str


@dataclass(frozen=True)
class MeasuredTuning:
    """The best tuned variant against the prompt it would replace, on measured figures."""

    tuned: str  # the tuned variant
    against: str  # the prompt variant it is compared with
    score: Estimate
    difference: PairedDifference  # tuned minus prompt, paired on the rows both scored
    prompt_tokens: float  # the tuned model's measured prompt tokens per call (zero-shot)
    route: str  # "self-hosted" (--hosting-cost given) or "hosted" (fine-tuned prices)
    cost_per_call: float | None  # the tuned model's, on its route
    prompt_cost_per_call: float | None
    hosting_cost: float | None  # USD per month, self-hosted only
    monthly_saving: float | None  # the prompt's monthly cost minus the tuned model's
    training: TuningFigures
    training_cost: float | None  # one-off: measured training tokens x --training-price
    payback_months: float | None  # training cost / monthly saving
    better: bool  # significantly better: the paired interval above 0 and p < 0.05
    worse: bool  # significantly worse
    beats_majority: bool  # label tasks: significantly better than the majority class
    reaches: bool | None  # its point estimate reaches the target; None without one

    def pays(self, within: float) -> bool:
        """Cheaper per month, with the one-off cost paid back within ``within`` months."""
        if self.monthly_saving is None or self.monthly_saving <= 0:
            return False
        if self.training_cost is None:
            # Self-hosted, the training has already run here; hosted, its price is unknown.
            return self.route == "self-hosted"
        return self.payback_months is not None and self.payback_months <= within


@dataclass(frozen=True)
class FineTuneFigures:
    """A fine-tuned model that matched ``baseline`` zero-shot: what it saves and costs."""

    baseline: str
    baseline_shots: float
    zero_shot_prompt_tokens: float | None
    shot_tokens_saved: float | None  # per call
    baseline_cost_per_call: float | None
    finetuned_cost_per_call: float | None
    saving_per_call: float | None
    saving_per_month: float | None
    training_tokens: float | None  # labelled x (prompt + answer tokens), an estimate
    epochs: int
    training_cost: float | None
    break_even_calls: float | None
    break_even_months: float | None
    #: the run's best tuned variant measured against the prompt (None: figures assumed)
    measured: MeasuredTuning | None = None

    @property
    def pays_back_within(self) -> float | None:
        """Months to recover the training cost; ``None`` when it never does or is unknown."""
        if self.saving_per_call is None or self.saving_per_call <= 0:
            return None
        return self.break_even_months


@dataclass(frozen=True)
class Advice:
    action: str  # one of ACTIONS
    recommendation: str  # what to do, one sentence
    rule: str  # the rule or figure that decided, one sentence
    metric: str
    target: float | None
    volume: float | None
    labelled: int
    top: str | None  # highest point estimate
    chosen: str | None  # cheapest variant reaching the target
    target_note: str  # what the interval says about the target
    variants: list[VariantAdvice]
    curve: list[StepAdvice]
    stop_paying_after: float | None  # shots after which extra examples stopped paying
    curve_note: str  # where extra examples stop paying: marginal score vs marginal cost
    finetune: FineTuneFigures | None
    notes: list[str]
    run: str | None = None  # the run the figures came from
    majority: LabelBaseline | None = None  # label tasks: the trivial answers' rates

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = _finite(asdict(self))
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)


def _finite(value: Any) -> Any:
    """NaN and infinity are not JSON; unknown figures become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


# -- wording shared by the decision's notes and the report ------------------------------


def monthly(per_call: float | None, volume: float | None) -> float | None:
    """A per-call figure times the calls per month; None when either is unknown."""
    return None if per_call is None or volume is None else per_call * volume


def months(value: float | None) -> str:
    if value is None:
        return "unknown"
    return f"{value:,.1f}" if value >= 1 else f"{value:.2g}"


def usd(value: float | None) -> str:
    """Dollars readable at any scale: $1,234.50, $0.25, $0.0000120."""
    if value is None:
        return "unknown"
    if value == 0:
        return "$0"
    if abs(value) >= 0.01:
        return f"${value:,.2f}"
    digits = -math.floor(math.log10(abs(value))) + 2
    return f"${value:.{digits}f}"


def target_note(inputs: AdviceInputs, top: VariantAdvice, chosen: VariantAdvice | None) -> str:
    """The sentence on the target: what reached it and how surely."""
    metric, target = inputs.metric, inputs.target
    if target is None:
        return (
            f"no --target given: the best measured {metric} is {top.figures.score} "
            f"({top.figures.variant})"
        )
    if chosen is None:
        s = top.figures.score
        beyond = "even its upper end is below" if s.high < target else "its upper end reaches"
        return (
            f"no variant reaches {metric} >= {target:g}: the best, {top.figures.variant}, "
            f"scores {s}; {beyond} the target"
        )
    s = chosen.figures.score
    if chosen.clears:
        return (
            f"{chosen.figures.variant} reaches {metric} >= {target:g} by its point estimate "
            f"({s.mean:.3f}) and its lower bound ({s.low:.3f}) clears it too"
        )
    return (
        f"{chosen.figures.variant} reaches {metric} >= {target:g} by its point estimate "
        f"({s.mean:.3f}) but its lower bound ({s.low:.3f}) does not clear it: more rows "
        "would tell"
    )
