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

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from promptkit.advise.finetune import (
    assumed_finetune,
    assumed_sentence,
    measure_tuned,
    measured_sentence,
    measured_verdict,
    why_not_finetune,
)
from promptkit.advise.model import (
    FINETUNE_MIN_EXAMPLES,
    Advice,
    AdviceInputs,
    FineTuneFigures,
    MeasuredTuning,
    ShotStep,
    StepAdvice,
    VariantAdvice,
    VariantFigures,
    monthly,
    months,
    target_note,
    usd,
)
from promptkit.advise.trivial import (
    beats_majority,
    best_kept,
    majority_missed,
    rework,
    target_missed,
    trivial_target_note,
)
from promptkit.errors import BadInput
from promptkit.results.front import FrontPoint, dominated_by, significantly_worse, spend_key

# -- the decision -----------------------------------------------------------------------


def decide(inputs: AdviceInputs) -> Advice:
    """Turn measured figures and prices into a recommendation with its reasons."""
    scored = [v for v in inputs.variants if v.score.n > 0]
    if not scored:
        raise BadInput(
            f"no variant has a {inputs.metric!r} score",
            hint="every case errored; fix the errors and run the suite again",
        )
    rows = _on_front([_variant_advice(inputs, v) for v in scored])
    # Tuned variants are what prompting is measured against, not prompts to choose.
    prompts, tuned = _split_tuned(rows)
    top = max(prompts, key=_strength)
    reaching = [r for r in prompts if r.reaches]
    if inputs.target is None:
        # Without a target, matching the best means not being significantly worse than it.
        reaching = [
            r for r in prompts if r is top or not significantly_worse(_point(r), _point(top))
        ]
    # A label-task variant no better than always answering the majority label is no choice.
    reaching = [r for r in reaching if beats_majority(inputs, r)]
    # A dominated variant is not the choice when what dominates it qualifies too.
    qualifying = {r.figures.variant for r in reaching}
    candidates = [r for r in reaching if r.dominated_by not in qualifying]
    chosen = min(candidates, key=_cheapness(candidates)) if candidates else None
    curve = [_step_advice(inputs, s, rows) for s in inputs.steps]
    few = _best_few_shot(prompts)
    # Shot advice is about a prompt that reads examples: the chosen one, else the best such.
    focus = chosen or few or top
    group = [c for c in curve if _same_group(c.step, focus.figures)]
    # Fine-tuning would replace shots: those of the chosen variant, else the best few-shot.
    replaced = chosen if chosen is not None and chosen.figures.shots > 0 else few or focus
    measured = measure_tuned(inputs, tuned, chosen or top)
    finetune = replace(assumed_finetune(inputs, prompts, replaced), measured=measured)
    notes = _notes(inputs, rows, finetune)
    verdict = measured_verdict(inputs, measured, chosen) if measured else None
    if verdict is not None:
        action, recommendation, rule = verdict
    elif chosen is None:
        action, recommendation, rule = _unreachable(inputs, top, focus, group, prompts, measured)
    else:
        action, recommendation, rule = _reached(inputs, top, chosen, group, finetune)
    rule = _basis(inputs, action, rule, finetune, chosen, replaced.figures.prompt)
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
        target_note=trivial_target_note(inputs, top, chosen) or target_note(inputs, top, chosen),
        variants=rows,
        curve=curve,
        stop_paying_after=_stop_paying_after(group),
        curve_note=_curve_note(group, inputs.volume, focus.figures, bool(curve)),
        finetune=finetune,
        notes=notes,
        majority=inputs.majority,
    )


def _split_tuned(rows: list[VariantAdvice]) -> tuple[list[VariantAdvice], list[VariantAdvice]]:
    """``(prompt variants, tuned variants)``; a run of tuned variants only is all prompts."""
    tuned = [r for r in rows if r.figures.tuning is not None]
    prompts = [r for r in rows if r.figures.tuning is None]
    return (prompts, tuned) if prompts else (rows, [])


def _basis(
    inputs: AdviceInputs,
    action: str,
    rule: str,
    ft: FineTuneFigures,
    chosen: VariantAdvice | None,
    prompt: str,
) -> str:
    """The rule, with whether its fine-tune figures were measured or assumed."""
    if ft.measured is not None:
        if action == "fine-tune":
            return rule
        return f"{rule} {measured_sentence(inputs, ft.measured, chosen)}"
    if action == "fine-tune" or inputs.labelled >= FINETUNE_MIN_EXAMPLES:
        return f"{rule} {assumed_sentence(inputs, ft.baseline, prompt)}"
    return rule


def _variant_advice(inputs: AdviceInputs, v: VariantFigures) -> VariantAdvice:
    cost = inputs.prices_of(v.model).per_call(v.prompt_tokens, v.completion_tokens)
    target = inputs.target
    return VariantAdvice(
        figures=v,
        cost_per_call=cost,
        cost_per_month=monthly(cost, inputs.volume),
        reaches=None if target is None else v.score.mean >= target,
        clears=None if target is None else v.score.low >= target,
    )


def _on_front(rows: list[VariantAdvice]) -> list[VariantAdvice]:
    """The rows with ``dominated_by`` set from the cost-quality front, on advise's prices."""
    priced = _priced(rows)
    dominated = dominated_by([_point(r, priced) for r in rows])
    return [replace(r, dominated_by=dominated.get(r.figures.variant)) for r in rows]


def _priced(rows: Sequence[VariantAdvice]) -> bool:
    return all(r.cost_per_call is not None for r in rows)


def _point(r: VariantAdvice, priced: bool = False) -> FrontPoint:
    """``r`` as the front sees it (the cost key matters only for domination)."""
    f = r.figures
    spend = spend_key(r.cost_per_call if priced else None, f.prompt_tokens + f.completion_tokens)
    return FrontPoint(f.variant, f.score, spend, f.rows)


def _cheapness(rows: Sequence[VariantAdvice]) -> Callable[[VariantAdvice], tuple[Any, ...]]:
    """Prefer variants whose whole interval clears the target, then the cheapest per call
    (tokens when any price is unknown), then the higher score."""
    priced = _priced(rows)

    def key(r: VariantAdvice) -> tuple[Any, ...]:
        f = r.figures
        spend = r.cost_per_call if priced else f.prompt_tokens + f.completion_tokens
        return (not r.clears, spend, -f.score.mean)

    return key


def _same_group(step: ShotStep, v: VariantFigures) -> bool:
    return step.line == v.line


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
        extra_cost_per_month=monthly(extra_cost, inputs.volume),
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
    rows: Sequence[VariantAdvice],
    measured: MeasuredTuning | None,
) -> tuple[str, str, str]:
    best, shots = top.figures, focus.figures
    missed = majority_missed(inputs, top) or target_missed(inputs, top)
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
    if labelled >= FINETUNE_MIN_EXAMPLES and measured is None:
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
    kept = best_kept(inputs, rows)
    if kept is None:
        return rework(inputs, top, missed)
    return (
        "keep",
        f"keep {kept.figures.variant} and iterate on the prompt; collect labelled examples",
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
    if enough and c.shots > 0 and pays and ft.measured is None:
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
            f"does not pay back: {why_not_finetune(inputs, ft)}.",
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
    why = why_not_finetune(inputs, ft)
    return f"{c.variant} reaches {_goal(inputs)} and fine-tuning does not pay back: {why}."


def _goal(inputs: AdviceInputs) -> str:
    if inputs.target is None:
        return "the best score (not significantly worse, paired 95% interval)"
    return f"{inputs.metric} >= {inputs.target:g}"


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
