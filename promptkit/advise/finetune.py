"""The fine-tuning branch: assumed, or measured when the run holds ``tuned/`` variants.

Without one, advise assumes that a fine-tuned model would match the prompt it replaces
zero-shot (``assumed_finetune``: the shot tokens it would stop sending, the training
tokens that estimate costs). With one, it compares instead: the best tuned
variant against the prompt variant it would replace, paired on the rows both scored
(the test the shots curve and ``compare`` use), at the tuned model's measured tokens
per call, with the training figures ``promptkit tune`` measured.

Two ways to serve a tuned model, priced differently:

- *self-hosted* (``--hosting-cost`` USD per month given): the adapter runs on a machine
  you pay for by the month, whatever the volume; its calls cost nothing more;
- *hosted* (no hosting cost): a provider's fine-tuned model, at the fine-tuned prices
  per token, after a one-off training of the measured tokens at ``--training-price``.

The tuned model must beat the majority class (label tasks), reach the target (when
one is given) and not be significantly worse than the prompt, on rows both scored.
Then it replaces the prompt when no prompt qualifies; else, with no target, when it is
significantly better than the chosen prompt; else when it costs less per month and
pays back its one-off cost within ``payback_months``. Every sentence says that its
figures were measured.
"""

from __future__ import annotations

from collections.abc import Sequence

from promptkit.advise.model import (
    AdviceInputs,
    FineTuneFigures,
    MeasuredTuning,
    VariantAdvice,
    VariantFigures,
    monthly,
    months,
    usd,
)
from promptkit.results.stats import paired_difference

__all__ = [
    "assumed_finetune",
    "assumed_sentence",
    "measure_tuned",
    "measured_sentence",
    "measured_verdict",
    "why_not_finetune",
    "zero_shot_tokens",
]


def zero_shot_tokens(rows: Sequence[VariantAdvice], base: VariantFigures) -> float | None:
    """Prompt tokens of ``base``'s prompt and model without shots: measured at k=0, or
    extrapolated along the line through two measured shot counts."""
    same = [r.figures for r in rows if r.figures.line == base.line]
    zero = [v for v in same if v.shots == 0]
    if zero or base.shots == 0:
        return (zero[0] if zero else base).prompt_tokens
    other = [v for v in same if v.shots != base.shots]
    if not other:
        return None
    near = other[0]
    per_shot = (base.prompt_tokens - near.prompt_tokens) / (base.shots - near.shots)
    return max(base.prompt_tokens - per_shot * base.shots, 0.0)


def assumed_finetune(
    inputs: AdviceInputs, rows: Sequence[VariantAdvice], baseline: VariantAdvice
) -> FineTuneFigures:
    """What a fine-tuned model matching ``baseline`` zero-shot would save and cost."""
    base = baseline.figures
    zero = zero_shot_tokens(rows, base)
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
        saving_per_month=monthly(saving, inputs.volume),
        training_tokens=training_tokens,
        epochs=inputs.epochs,
        training_cost=training_cost,
        break_even_calls=break_even,
        break_even_months=payback,
    )


def why_not_finetune(inputs: AdviceInputs, ft: FineTuneFigures) -> str:
    """Why the assumed fine-tune does not pay back, in one clause."""
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


def measure_tuned(
    inputs: AdviceInputs, tuned: Sequence[VariantAdvice], against: VariantAdvice
) -> MeasuredTuning | None:
    """The best of the ``tuned`` variants measured against the prompt variant ``against``."""
    if not tuned:
        return None
    # Served zero-shot is what a tuned model is for; one sent shots competes only alone.
    zero_shot = [r for r in tuned if r.figures.shots == 0] or list(tuned)
    best = max(zero_shot, key=lambda r: r.figures.score.mean)
    t, p = best.figures, against.figures
    shared = sorted(set(t.rows) & set(p.rows))
    diff = paired_difference([p.rows[r] for r in shared], [t.rows[r] for r in shared])
    hosting = inputs.hosting_cost
    route = "self-hosted" if hosting is not None else "hosted"
    # Self-hosted, a call costs nothing more than the monthly hosting; hosted, tokens.
    cost = (
        0.0
        if hosting is not None
        else inputs.ft_prices_of(t.model).per_call(t.prompt_tokens, t.completion_tokens)
    )
    saving = None
    if cost is not None and against.cost_per_call is not None and inputs.volume is not None:
        saving = (against.cost_per_call - cost) * inputs.volume - (hosting or 0.0)
    figures = t.tuning
    assert figures is not None  # only tuned variants are passed
    training = None  # self-hosted, the training has already run here
    if hosting is None and inputs.training_price is not None and figures.training_tokens:
        training = figures.training_tokens * inputs.training_price
    payback = training / saving if training is not None and saving and saving > 0 else None
    significant = diff.n > 0 and diff.p_value < 0.05
    return MeasuredTuning(
        tuned=t.variant,
        against=p.variant,
        score=t.score,
        difference=diff,
        prompt_tokens=t.prompt_tokens,
        route=route,
        cost_per_call=cost,
        prompt_cost_per_call=against.cost_per_call,
        hosting_cost=hosting,
        monthly_saving=saving,
        training=figures,
        training_cost=training,
        payback_months=payback,
        better=significant and diff.low > 0,
        worse=significant and diff.high < 0,
        beats_majority=inputs.majority is None
        or (t.versus_majority is not None and t.versus_majority.significant),
        reaches=None if inputs.target is None else t.score.mean >= inputs.target,
    )


def measured_verdict(
    inputs: AdviceInputs, m: MeasuredTuning, chosen: VariantAdvice | None
) -> tuple[str, str, str] | None:
    """``(action, recommendation, rule)`` when the measured tuned model should replace the
    prompt; None when it should not (then :func:`measured_sentence` says why)."""
    if _shortfall(inputs, m, chosen) is not None:
        return None
    why = "it is significantly better" if m.better else "it is not significantly worse"
    return (
        "fine-tune",
        f"serve {m.tuned} in place of {m.against} ({_trained(m)})",
        f"measured, not assumed: {_versus(m)}; {why}{_money(m)}.",
    )


def measured_sentence(inputs: AdviceInputs, m: MeasuredTuning, chosen: VariantAdvice | None) -> str:
    """Why the measured tuned model does not replace the prompt, naming the figures."""
    why = _shortfall(inputs, m, chosen) or "it does not"
    return f"Fine-tuning was measured, not assumed: {_versus(m)}, and {why}."


def assumed_sentence(inputs: AdviceInputs, baseline: str, prompt: str) -> str:
    """What the fine-tune figures rest on when the run has no tuned variant."""
    return (
        f"The fine-tune figures are assumed (a fine-tuned model matching {baseline} "
        f"zero-shot); measure them: promptkit tune {inputs.suite or 'SUITE'} --method lora "
        f"--prompt {prompt}, then add the tuned/ model to the suite's models."
    )


def _shortfall(inputs: AdviceInputs, m: MeasuredTuning, chosen: VariantAdvice | None) -> str | None:
    """The first reason the tuned model does not replace the prompt, else None."""
    if m.difference.n == 0:
        return f"no row was scored by both {m.tuned} and {m.against}"
    if not m.beats_majority:
        return "it is not significantly better than the majority class"
    if m.reaches is False:
        return f"it does not reach {inputs.metric} >= {inputs.target:g}"
    if m.worse:
        return "it is significantly worse"
    if chosen is None:
        # No prompt qualifies (none reaches the target or beats the majority class), and
        # the tuned model does and is not worse than the best prompt: it is the answer.
        return None
    if inputs.target is None and m.better:
        return None
    if m.pays(inputs.payback_months):
        return None
    return f"it does not pay: {_money_why(inputs, m)}"


def _versus(m: MeasuredTuning) -> str:
    d = m.difference
    return (
        f"{m.tuned} scores {m.score} against {m.against} "
        f"({d.interval_text()}, paired p={d.p_value:.2g}, {d.n} rows; {_trained(m)})"
    )


def _trained(m: MeasuredTuning) -> str:
    t = m.training
    wall = "unknown time" if t.wall_s is None else f"{t.wall_s:,.0f} s"
    return f"{t.method} on {t.examples} labelled examples, trained in {wall} on {t.device}"


def _money(m: MeasuredTuning) -> str:
    if m.monthly_saving is None or m.monthly_saving <= 0:
        return ""
    one_off = (
        f", one-off {usd(m.training_cost)} paid back in {months(m.payback_months)} months"
        if m.training_cost is not None
        else ""
    )
    return f", and {m.route} it saves {usd(m.monthly_saving)}/month{one_off}"


def _money_why(inputs: AdviceInputs, m: MeasuredTuning) -> str:
    if m.cost_per_call is None or m.prompt_cost_per_call is None:
        return "the cost per call is unknown without prices"
    if inputs.volume is None:
        return "no --volume says how many calls would pay for it"
    hosting = f" + {usd(m.hosting_cost)}/month hosting" if m.hosting_cost is not None else ""
    per_call = (
        f"{usd(m.cost_per_call)} per call{hosting} against the prompt's "
        f"{usd(m.prompt_cost_per_call)} at {inputs.volume:,.0f} calls/month"
    )
    assert m.monthly_saving is not None  # prices and volume are known here
    if m.monthly_saving <= 0:
        return f"{m.route}, it costs {usd(-m.monthly_saving)}/month more ({per_call})"
    if m.training_cost is None:
        return (
            f"{m.route}, it saves {usd(m.monthly_saving)}/month ({per_call}) but the one-off "
            "training cost is unknown (pass --training-price)"
        )
    return (
        f"{m.route}, it saves {usd(m.monthly_saving)}/month ({per_call}) but the one-off "
        f"{usd(m.training_cost)} takes {months(m.payback_months)} months to pay back "
        f"(more than {inputs.payback_months:g})"
    )
