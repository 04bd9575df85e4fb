"""Decide before you fine-tune: the usual rules of thumb as arithmetic on a run.

    measure_run(run)        a run's scores, tokens per call and shots curve
    decide(AdviceInputs)    pure arithmetic and the decision; no I/O, easy to test
    advise_run(run, ...)        both, with prices from litellm's price map unless given

The rules, in the order they are tried (a labelled example is one row of the
suite's example pool that is not also an evaluation row):

- nothing reaches the target: add shots while the shots curve still rises;
  else fine-tune with about 100 or more labelled examples; else retrieve
  examples per input (``similar`` shots); else keep iterating on the prompt;
- the target is reached: fine-tune when there are about 100 or more labelled
  examples and the one-off training cost is paid back by the per-call saving
  within ``payback_months`` at the given volume; else use fewer shots when a
  cheaper variant reaches the target; add shots when the best reaches it only
  by its point estimate and the curve still rises; retrieve examples per input
  when the pool is large; else keep the prompt.

Prices are USD per token here; the CLI takes them per million tokens.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptkit.compare import variant_scores
from promptkit.datasets import Dataset, load_dataset
from promptkit.errors import BadInput
from promptkit.paths import DEFAULT_ROOT
from promptkit.pricing import FREE_PREFIXES, litellm_price_map
from promptkit.shots import ShotSelector, ShotSettings
from promptkit.stats import Estimate, PairedDifference, mean_interval, paired_difference
from promptkit.store import RunStore, load_run
from promptkit.summary import column_mean

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ACTIONS",
    "FINETUNE_MIN_EXAMPLES",
    "Advice",
    "AdviceInputs",
    "FineTuneFigures",
    "Measurements",
    "PriceOptions",
    "Prices",
    "ShotStep",
    "StepAdvice",
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

PER_MILLION = 1_000_000
# "Fewer than about 100 labelled examples: prompt engineering; hundreds to thousands:
# fine-tuning is worth trying."
FINETUNE_MIN_EXAMPLES = 100
ACTIONS = ("keep", "add-shots", "remove-shots", "similar-shots", "fine-tune")


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
class VariantFigures:
    """What a run measured for one variant (means per call, error rows excluded)."""

    variant: str
    prompt: str
    model: str
    shots: float  # examples actually sent per call, on average
    score: Estimate
    prompt_tokens: float
    completion_tokens: float


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


# -- the decision -----------------------------------------------------------------------


def decide(inputs: AdviceInputs) -> Advice:
    """Turn measured figures and prices into a recommendation with its reasons."""
    scored = [v for v in inputs.variants if v.score.n > 0]
    if not scored:
        raise BadInput(
            f"no variant has a {inputs.metric!r} score",
            hint="every case errored; fix the errors and run the suite again",
        )
    rows = [_variant_advice(inputs, v) for v in scored]
    top = max(rows, key=_strength)
    reaching = [r for r in rows if r.reaches]
    if inputs.target is None:
        # Without a target, matching the best means scoring inside its 95% interval.
        reaching = [r for r in rows if r.figures.score.mean >= top.figures.score.low]
    chosen = min(reaching, key=_cheapness(reaching)) if reaching else None
    curve = [_step_advice(inputs, s, rows) for s in inputs.steps]
    few = _best_few_shot(rows)
    # Shot advice is about a prompt that reads examples: the chosen one, else the best such.
    focus = chosen or few or top
    group = [c for c in curve if _same_group(c.step, focus.figures)]
    # Fine-tuning would replace shots: those of the chosen variant, else the best few-shot.
    replaced = chosen if chosen is not None and chosen.figures.shots > 0 else few or focus
    finetune = _finetune(inputs, rows, replaced)
    notes = _notes(inputs, rows, finetune)
    if chosen is None:
        action, recommendation, rule = _unreachable(inputs, top, focus, group)
    else:
        action, recommendation, rule = _reached(inputs, top, chosen, group, finetune)
    return Advice(
        action=action,
        recommendation=recommendation,
        rule=rule,
        metric=inputs.metric,
        target=inputs.target,
        volume=inputs.volume,
        labelled=inputs.labelled,
        top=top.figures.variant,
        chosen=chosen.figures.variant if chosen else None,
        target_note=_target_note(inputs, top, chosen),
        variants=rows,
        curve=curve,
        stop_paying_after=_stop_paying_after(group),
        curve_note=_curve_note(group, inputs.volume, focus.figures, bool(curve)),
        finetune=finetune,
        notes=notes,
    )


def _variant_advice(inputs: AdviceInputs, v: VariantFigures) -> VariantAdvice:
    cost = inputs.prices_of(v.model).per_call(v.prompt_tokens, v.completion_tokens)
    target = inputs.target
    return VariantAdvice(
        figures=v,
        cost_per_call=cost,
        cost_per_month=_monthly(cost, inputs.volume),
        reaches=None if target is None else v.score.mean >= target,
        clears=None if target is None else v.score.low >= target,
    )


def _monthly(per_call: float | None, volume: float | None) -> float | None:
    return None if per_call is None or volume is None else per_call * volume


def _cheapness(rows: Sequence[VariantAdvice]) -> Callable[[VariantAdvice], tuple[Any, ...]]:
    """Prefer variants whose whole interval clears the target, then the cheapest per call
    (tokens when any price is unknown), then the higher score."""
    priced = all(r.cost_per_call is not None for r in rows)

    def key(r: VariantAdvice) -> tuple[Any, ...]:
        f = r.figures
        spend = r.cost_per_call if priced else f.prompt_tokens + f.completion_tokens
        return (not r.clears, spend, -f.score.mean)

    return key


def _same_group(step: ShotStep, v: VariantFigures) -> bool:
    return (step.prompt, step.model) == (v.prompt, v.model)


def _strength(r: VariantAdvice) -> tuple[float, float]:
    """Highest score first; between equal scores, the one sending fewer tokens."""
    f = r.figures
    return (f.score.mean, -(f.prompt_tokens + f.completion_tokens))


def _best_few_shot(rows: Sequence[VariantAdvice]) -> VariantAdvice | None:
    few = [r for r in rows if r.figures.shots > 0]
    return max(few, key=_strength) if few else None


def _step_advice(inputs: AdviceInputs, step: ShotStep, rows: Sequence[VariantAdvice]) -> StepAdvice:
    by_id = {r.figures.variant: r for r in rows}
    start, end = by_id.get(step.variant_from), by_id.get(step.variant_to)
    extra_tokens = (end.figures.prompt_tokens if end else 0.0) - (
        start.figures.prompt_tokens if start else 0.0
    )
    extra_cost = None
    if start and end and start.cost_per_call is not None and end.cost_per_call is not None:
        extra_cost = end.cost_per_call - start.cost_per_call
    shots = max(step.k_to - step.k_from, 1e-9)
    gain = step.gain
    # Both the paired interval and the paired test must say "better", not one of them.
    significant = gain.n > 0 and gain.low > 0 and gain.p_value < 0.05
    already = bool(start and start.clears)
    pays = significant and not already
    if already:
        why = f"k={step.k_from:g} already clears the target"
    elif significant:
        why = f"a real gain (paired p={gain.p_value:.2g})"
    else:
        why = f"no clear gain (paired p={gain.p_value:.2g})"
    return StepAdvice(
        step=step,
        extra_prompt_tokens=extra_tokens,
        extra_cost_per_call=extra_cost,
        extra_cost_per_month=_monthly(extra_cost, inputs.volume),
        gain_per_shot=gain.mean / shots if gain.n else float("nan"),
        pays=pays,
        why=why,
    )


def _stop_paying_after(group: Sequence[StepAdvice]) -> float | None:
    """The shot count after which no further step paid for its extra examples."""
    if not group:
        return None
    ordered = sorted(group, key=lambda s: s.step.k_from)
    paying = [s for s in ordered if s.pays]
    return paying[-1].step.k_to if paying else ordered[0].step.k_from


def _curve_note(
    group: Sequence[StepAdvice], volume: float | None, focus: VariantFigures, others: bool
) -> str:
    if not group:
        where = f"{focus.prompt} on {focus.model}"
        if others:
            return f"{where} ran at one shot count, so the curve above is other prompts'"
        return f"no shots sweep for {where}: run several k to see the curve"
    ordered = sorted(group, key=lambda s: s.step.k_from)
    where = f"{ordered[0].step.prompt} on {ordered[0].step.model}"
    after = _stop_paying_after(ordered)
    beyond = [s for s in ordered if s.step.k_from >= (after or 0) and not s.pays]
    if not beyond:
        return f"{where}: every extra example still paid up to k={ordered[-1].step.k_to:g}"
    s = beyond[0]
    shots = s.step.k_to - s.step.k_from
    cost = ""
    if s.extra_cost_per_call is not None:
        cost = f" for {usd(s.extra_cost_per_call / shots)} more per call"
        if volume is not None:
            cost += f" ({usd(s.extra_cost_per_call / shots * volume)}/month)"
    return (
        f"{where}: extra examples stop paying after k={after:g}; k={s.step.k_from:g}->"
        f"{s.step.k_to:g} gains {s.gain_per_shot:+.4f} per extra shot{cost}, and {s.why}"
    )


def _rising(group: Sequence[StepAdvice]) -> StepAdvice | None:
    """The last step of the curve, when it still gained significantly."""
    if not group:
        return None
    last = max(group, key=lambda s: s.step.k_to)
    return last if last.pays else None


def _zero_shot_tokens(rows: Sequence[VariantAdvice], base: VariantFigures) -> float | None:
    """Prompt tokens of ``base``'s prompt and model without shots: measured at k=0, or
    extrapolated along the line through two measured shot counts."""
    same = [
        r.figures for r in rows if (r.figures.prompt, r.figures.model) == (base.prompt, base.model)
    ]
    zero = [v for v in same if v.shots == 0]
    if zero or base.shots == 0:
        return (zero[0] if zero else base).prompt_tokens
    other = [v for v in same if v.shots != base.shots]
    if not other:
        return None
    near = other[0]
    per_shot = (base.prompt_tokens - near.prompt_tokens) / (base.shots - near.shots)
    return max(base.prompt_tokens - per_shot * base.shots, 0.0)


def _finetune(
    inputs: AdviceInputs, rows: Sequence[VariantAdvice], baseline: VariantAdvice
) -> FineTuneFigures:
    base = baseline.figures
    zero = _zero_shot_tokens(rows, base)
    ft_cost = None
    training_tokens = None
    if zero is not None:
        ft_cost = inputs.ft_prices_of(base.model).per_call(zero, base.completion_tokens)
        training_tokens = inputs.labelled * (zero + base.completion_tokens)
    saving = None
    if ft_cost is not None and baseline.cost_per_call is not None:
        saving = baseline.cost_per_call - ft_cost
    training_cost = None
    if training_tokens is not None and inputs.training_price is not None:
        training_cost = training_tokens * inputs.epochs * inputs.training_price
    break_even = None
    if training_cost is not None and saving is not None and saving > 0:
        break_even = training_cost / saving
    payback = None
    if break_even is not None and inputs.volume:
        payback = break_even / inputs.volume
    return FineTuneFigures(
        baseline=base.variant,
        baseline_shots=base.shots,
        zero_shot_prompt_tokens=zero,
        shot_tokens_saved=None if zero is None else base.prompt_tokens - zero,
        baseline_cost_per_call=baseline.cost_per_call,
        finetuned_cost_per_call=ft_cost,
        saving_per_call=saving,
        saving_per_month=_monthly(saving, inputs.volume),
        training_tokens=training_tokens,
        epochs=inputs.epochs,
        training_cost=training_cost,
        break_even_calls=break_even,
        break_even_months=payback,
    )


def _target_note(inputs: AdviceInputs, top: VariantAdvice, chosen: VariantAdvice | None) -> str:
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


def _notes(inputs: AdviceInputs, rows: Sequence[VariantAdvice], ft: FineTuneFigures) -> list[str]:
    notes = []
    models = sorted({r.figures.model for r in rows})
    for model in models:
        notes.append(f"{model} prices: {inputs.prices_of(model).source}")
        notes.append(f"{model} fine-tuned prices: {inputs.ft_prices_of(model).source}")
    free = [m for m in models if inputs.prices_of(m).input == 0 and inputs.prices_of(m).output == 0]
    if free:
        notes.append(
            f"{', '.join(free)} cost 0 per call, so every cost figure is 0: pass --input-price "
            "and --output-price (USD per 1M tokens) to price a hosted equivalent"
        )
    if inputs.training_price is None:
        notes.append(inputs.training_price_source or "training price unknown")
    if inputs.volume is None:
        notes.append("no --volume: monthly figures and the payback time need calls per month")
    if ft.zero_shot_prompt_tokens is None:
        notes.append(
            f"the zero-shot prompt size of {ft.baseline} is unknown: add k=0 to the suite's shots"
        )
    if ft.training_tokens is not None:
        notes.append(
            "training tokens are estimated as labelled examples x (zero-shot prompt + "
            "completion tokens per call), from the run's measured token counts"
        )
    return notes


# -- which action -----------------------------------------------------------------------


def _unreachable(
    inputs: AdviceInputs,
    top: VariantAdvice,
    focus: VariantAdvice,
    group: Sequence[StepAdvice],
) -> tuple[str, str, str]:
    best, shots = top.figures, focus.figures
    missed = (
        f"no variant reaches {inputs.metric} >= {inputs.target:g} "
        f"(best: {best.variant}, {best.score})"
    )
    rising = _rising(group)
    labelled = inputs.labelled
    most_shots = max((s.step.k_to for s in group), default=shots.shots)
    if rising and labelled > most_shots:
        return (
            "add-shots",
            f"measure {shots.prompt} on {shots.model} with more than {most_shots:g} shots",
            f"{missed}, and the last step of its shots curve, {_step_words(rising)}, "
            f"still gains while the pool has {labelled} examples.",
        )
    if labelled >= FINETUNE_MIN_EXAMPLES:
        return (
            "fine-tune",
            f"fine-tune {best.model} on the {labelled} labelled examples "
            "(promptkit export finetune) and evaluate it zero-shot",
            f"{missed}, and {labelled} labelled examples are enough to try fine-tuning "
            f"(rule: about {FINETUNE_MIN_EXAMPLES} or more).",
        )
    if shots.shots > 0 and inputs.strategy != "similar" and labelled > most_shots:
        return (
            "similar-shots",
            f"measure {shots.prompt} with examples retrieved per input (shots: strategy: similar)",
            f"{missed}; more fixed examples stopped helping and {labelled} labelled examples "
            f"are too few to fine-tune (rule: about {FINETUNE_MIN_EXAMPLES}), so retrieving "
            "the nearest examples per input is the lever left.",
        )
    return (
        "keep",
        f"keep {best.variant} and iterate on the prompt; collect labelled examples",
        f"{missed}, and {labelled} labelled examples are too few to fine-tune "
        f"(rule: about {FINETUNE_MIN_EXAMPLES} or more).",
    )


def _reached(
    inputs: AdviceInputs,
    top: VariantAdvice,
    chosen: VariantAdvice,
    group: Sequence[StepAdvice],
    ft: FineTuneFigures,
) -> tuple[str, str, str]:
    c = chosen.figures
    paid_in = ft.pays_back_within
    labelled = inputs.labelled
    enough = labelled >= FINETUNE_MIN_EXAMPLES
    pays = paid_in is not None and paid_in <= inputs.payback_months
    if enough and c.shots > 0 and pays:
        return (
            "fine-tune",
            f"fine-tune {c.model} on the {labelled} labelled examples and serve it zero-shot "
            f"in place of {ft.baseline}",
            f"fine-tuning pays back: {usd(ft.training_cost)} one-off / "
            f"{usd(ft.saving_per_call)} saved per call = {ft.break_even_calls:,.0f} calls, "
            f"{months(ft.break_even_months)} months at {inputs.volume:,.0f} calls/month "
            f"(<= {inputs.payback_months:g}), with {labelled} labelled examples.",
        )
    t = top.figures
    if c.shots < t.shots:
        saved = _difference_words(top, chosen, inputs.volume)
        return (
            "remove-shots",
            f"use {c.variant} ({c.shots:g} shots) instead of {t.variant} ({t.shots:g} shots)",
            f"{c.variant} reaches {_goal(inputs)} with fewer shots{saved}.",
        )
    rising = _rising(group)
    if not chosen.clears and rising and labelled > c.shots:
        return (
            "add-shots",
            f"measure {c.prompt} on {c.model} with more than {c.shots:g} shots",
            f"{c.variant} reaches {_goal(inputs)} only by its point estimate and its shots curve "
            f"still gains ({_step_words(rising)}).",
        )
    if enough and c.shots > 0 and inputs.strategy != "similar":
        return (
            "similar-shots",
            f"keep {c.variant} but retrieve its {c.shots:g} examples per input "
            "(shots: strategy: similar) from the pool",
            f"{labelled} labelled examples are enough to choose from, but fine-tuning "
            f"does not pay back: {_why_not_finetune(inputs, ft)}.",
        )
    return (
        "keep",
        f"keep {c.variant}",
        _keep_rule(inputs, c, ft),
    )


def _keep_rule(inputs: AdviceInputs, c: VariantFigures, ft: FineTuneFigures) -> str:
    if inputs.labelled < FINETUNE_MIN_EXAMPLES:
        return (
            f"{c.variant} is the cheapest variant that reaches {_goal(inputs)}, and "
            f"{inputs.labelled} labelled examples are too few to fine-tune "
            f"(rule: about {FINETUNE_MIN_EXAMPLES} or more)."
        )
    if c.shots == 0:
        return (
            f"{c.variant} reaches {_goal(inputs)} zero-shot, so a fine-tuned model has no "
            "shot tokens to save."
        )
    why = _why_not_finetune(inputs, ft)
    return f"{c.variant} reaches {_goal(inputs)} and fine-tuning does not pay back: {why}."


def _goal(inputs: AdviceInputs) -> str:
    if inputs.target is None:
        return "the best score (within its 95% interval)"
    return f"{inputs.metric} >= {inputs.target:g}"


def _why_not_finetune(inputs: AdviceInputs, ft: FineTuneFigures) -> str:
    if ft.saving_per_call is None:
        return "the saving per call is unknown without prices"
    if ft.saving_per_call <= 0:
        return (
            f"a fine-tuned model would cost {usd(ft.finetuned_cost_per_call)} per call, "
            f"not less than {usd(ft.baseline_cost_per_call)}"
        )
    if ft.training_cost is None:
        return "the training cost is unknown (pass --training-price)"
    if inputs.volume is None:
        return (
            f"it breaks even after {ft.break_even_calls:,.0f} calls, but no --volume says "
            "how soon that is"
        )
    return (
        f"it breaks even after {ft.break_even_calls:,.0f} calls, "
        f"{months(ft.break_even_months)} months at {inputs.volume:,.0f} calls/month "
        f"(more than {inputs.payback_months:g})"
    )


def _step_words(s: StepAdvice) -> str:
    g = s.step.gain
    return (
        f"k={s.step.k_from:g}->{s.step.k_to:g}: {g.mean:+.3f} "
        f"(paired 95% interval [{g.low:+.3f}, {g.high:+.3f}])"
    )


def _difference_words(top: VariantAdvice, chosen: VariantAdvice, volume: float | None) -> str:
    if top.cost_per_call is None or chosen.cost_per_call is None:
        tokens = top.figures.prompt_tokens - chosen.figures.prompt_tokens
        return f", {tokens:.0f} fewer prompt tokens per call"
    saved = top.cost_per_call - chosen.cost_per_call
    monthly = f" ({usd(saved * volume)}/month)" if volume else ""
    return f", {usd(saved)} less per call{monthly}"


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


# -- measuring a run --------------------------------------------------------------------


@dataclass(frozen=True)
class Measurements:
    run_id: str
    path: str
    metric: str
    variants: tuple[VariantFigures, ...]
    steps: tuple[ShotStep, ...]
    pool_size: int | None  # usable examples in the suite's pool; None when unreadable
    strategy: str
    notes: tuple[str, ...] = ()


def measure_run(
    run: str | Path | None = None, *, metric: str | None = None, root: str | Path = DEFAULT_ROOT
) -> Measurements:
    """Scores, tokens per call and the shots curve of a stored run (default: the latest)."""
    folder = RunStore(root).find(run)
    meta = json.loads((folder / "meta.json").read_text("utf-8"))
    frame = load_run(folder, root=root)
    metric = _metric(meta, frame, metric, folder)
    ok = frame[frame["error"].isna()] if "error" in frame else frame
    variants = tuple(_figures(frame, ok, str(v), metric) for v in frame["variant"].unique())
    raw = meta.get("resolved_suite") or {}
    shots = raw.get("shots")
    strategy = str(shots.get("strategy", "first")) if isinstance(shots, dict) else "first"
    pool, note = _usable_pool(meta)
    return Measurements(
        run_id=folder.name,
        path=str(folder),
        metric=metric,
        variants=variants,
        steps=tuple(_steps(frame, variants, metric)),
        pool_size=pool,
        strategy=strategy,
        notes=(note,) if note else (),
    )


def _metric(meta: Mapping[str, Any], frame: pd.DataFrame, metric: str | None, folder: Path) -> str:
    known = list(meta.get("metrics") or [])
    if frame.empty:
        raise BadInput("the run has no journal rows", path=folder, hint="run 'promptkit eval'")
    if metric is None:
        if not known:
            raise BadInput("the run has no metrics", path=folder, hint="give --metric")
        return str(known[0])
    if metric not in known:
        raise BadInput(
            f"the run has no metric {metric!r}",
            path=folder,
            hint=f"choose one of: {', '.join(known) or 'none'}",
        )
    return metric


def _figures(frame: pd.DataFrame, ok: pd.DataFrame, variant: str, metric: str) -> VariantFigures:
    rows = frame[frame["variant"] == variant]
    good = ok[ok["variant"] == variant]
    scores = variant_scores(frame, variant, metric)
    # Examples actually sent: fewer than k when the pool or a token budget runs short.
    used = float(rows["shot_ids"].map(len).mean()) if "shot_ids" in rows else 0.0
    return VariantFigures(
        variant=variant,
        prompt=str(rows["prompt"].iloc[0]),
        model=str(rows["model"].iloc[0]),
        shots=used,
        score=mean_interval(scores.tolist()),
        prompt_tokens=column_mean(good, "prompt_tokens"),
        completion_tokens=column_mean(good, "completion_tokens"),
    )


def _steps(frame: pd.DataFrame, variants: Sequence[VariantFigures], metric: str) -> list[ShotStep]:
    """Consecutive shot counts of each prompt and model, paired on their shared rows."""
    groups: dict[tuple[str, str], list[VariantFigures]] = {}
    for v in variants:
        groups.setdefault((v.prompt, v.model), []).append(v)
    steps = []
    for (prompt, model), members in groups.items():
        ordered = sorted(members, key=lambda v: v.shots)
        for a, b in itertools.pairwise(ordered):
            if b.shots == a.shots:
                continue
            left = variant_scores(frame, a.variant, metric)
            right = variant_scores(frame, b.variant, metric)
            shared = sorted(set(left.index) & set(right.index))
            gain = paired_difference(left.loc[shared].tolist(), right.loc[shared].tolist())
            steps.append(ShotStep(prompt, model, a.variant, b.variant, a.shots, b.shots, gain))
    return steps


def _usable_pool(meta: Mapping[str, Any]) -> tuple[int | None, str | None]:
    """Pool rows that are not evaluation rows (the shot selector's rule), from the run's
    resolved suite; paths in it are relative to the suite file."""
    raw = meta.get("resolved_suite") or {}
    if "examples" not in raw:
        return 0, "the suite has no example pool: pass --labelled with the examples you have"
    base = Path(str(meta.get("suite_path") or ".")).parent
    inputs = raw.get("inputs") or []
    if isinstance(inputs, str):
        inputs = [inputs]
    columns = list(inputs.values()) if isinstance(inputs, dict) else list(inputs)
    try:
        pool, rows = _dataset(base, raw["examples"]), _dataset(base, raw["dataset"])
    except (BadInput, KeyError, TypeError) as exc:
        return None, f"could not read the suite's example pool ({exc}): pass --labelled"
    selector = ShotSelector(
        pool, ShotSettings(), input_columns=columns, label_column=None, exclude=rows
    )
    return len(selector.pool), None


def _dataset(base: Path, spec: Any) -> Dataset:
    spec = {"path": spec} if isinstance(spec, str) else dict(spec)
    return load_dataset(base / str(spec["path"]), id_column=spec.get("id"))


# -- prices -----------------------------------------------------------------------------

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


def _resolve(
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


def _finetuned(model: str, base: Prices, prices: PriceOptions) -> Prices:
    given = (prices.ft_input, prices.ft_output)
    if _free(model) and base.input and given == (None, None):
        # A local model priced as a hosted one: its fine-tuned twin costs at least as much.
        return Prices(
            base.input,
            base.output,
            "assumed equal to the given base prices (hosted fine-tuned models usually cost "
            "more: pass --ft-input-price/--ft-output-price)",
        )
    return _resolve(model, finetuned_prices, given, "--ft-input/--ft-output-price")


TRAINING_PRICE_UNKNOWN = (
    "litellm's price map has no fine-tuning training prices: pass --training-price "
    "(USD per 1M training tokens) for the one-off cost and the break-even volume"
)


def advise_run(
    run: str | Path | None = None,
    *,
    metric: str | None = None,
    volume: float | None = None,
    labelled: int | None = None,
    target: float | None = None,
    prices: PriceOptions = PriceOptions(),  # frozen, so one shared default is safe
    epochs: int = 3,
    payback_months: float = 12.0,
    root: str | Path = DEFAULT_ROOT,
) -> Advice:
    """Measure a stored run, price it, and decide; see :func:`decide` for the rules."""
    measured = measure_run(run, metric=metric, root=root)
    models = sorted({v.model for v in measured.variants})
    given = labelled if labelled is not None else measured.pool_size
    base = {
        m: _resolve(m, model_prices, (prices.input, prices.output), "--input/--output-price")
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
        ft_prices={m: _finetuned(m, base[m], prices) for m in models},
        training_price=None if prices.training is None else prices.training / PER_MILLION,
        training_price_source="given by --training-price (per 1M tokens)"
        if prices.training is not None
        else TRAINING_PRICE_UNKNOWN,
        epochs=epochs,
        payback_months=payback_months,
        strategy=measured.strategy,
    )
    advice = decide(inputs)
    notes = list(measured.notes) if labelled is None else []
    return replace(advice, run=measured.run_id, notes=[*notes, *advice.notes])
