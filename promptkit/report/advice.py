"""What ``promptkit advise`` prints: the figures first, then the decision and its rule."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from promptkit.advise import (
    Advice,
    FineTuneFigures,
    MeasuredTuning,
    StepAdvice,
    VariantAdvice,
    months,
    usd,
)
from promptkit.results.baselines import VersusMajority
from promptkit.results.front import ON_FRONT

__all__ = ["advice_report"]


def advice_report(advice: Advice) -> Group:
    parts: list[RenderableType] = [Text(_heading(advice), style="bold"), _variants(advice)]
    if advice.majority is not None:
        parts.append(Text.assemble(("Trivial answers: ", "bold"), _trivial(advice)))
    if advice.curve:
        parts.append(_curve(advice.curve, advice.volume))
    parts.append(Text.assemble(("Shots: ", "bold"), advice.curve_note))
    if advice.finetune is not None:
        parts.append(_finetune(advice.finetune, advice))
    parts.append(
        Text.assemble(("Recommendation: ", "bold"), f"{advice.action}: {advice.recommendation}")
    )
    parts.append(Text.assemble(("Decided by: ", "bold"), advice.rule))
    parts.append(Text.assemble(("Target: ", "bold"), advice.target_note))
    if advice.notes:
        parts.append(Text("Notes:\n" + "\n".join(f"  - {n}" for n in advice.notes)))
    return Group(*_spaced(parts))


def _spaced(parts: Sequence[RenderableType]) -> list[RenderableType]:
    spaced: list[RenderableType] = []
    for part in parts:
        spaced += [part, Text("")]
    return spaced[:-1]


def _heading(a: Advice) -> str:
    target = f"target {a.target:g}" if a.target is not None else "no target"
    volume = f"{a.volume:,.0f} calls/month" if a.volume is not None else "no volume given"
    run = f"run {a.run}: " if a.run else ""
    return f"{run}{a.metric}, {target}, {volume}, {a.labelled} labelled examples"


def _trivial(a: Advice) -> str:
    m = a.majority
    assert m is not None
    return (
        f"majority class {m.majority_text()}: {m.rate} on {m.rows} rows; "
        f"uniform chance {m.chance:.3f} ({m.chance_text()}). A variant not significantly "
        "better than the majority class is never kept."
    )


def _versus(versus: VersusMajority | None) -> str:
    """Compact (the table is wide already): the verdict and its paired p-value."""
    if versus is None or not versus.difference.n:
        return "-"
    return f"{versus.verdict()} p={versus.difference.p_value:.2g}"


def _reached(v: VariantAdvice) -> str:
    if v.reaches is None:
        return "-"
    if v.clears:
        return "yes, interval clears"
    return "point only" if v.reaches else "no"


def _variants(a: Advice) -> Table:
    table = Table(title="Measured per variant (95% intervals; tokens are means per call)")
    table.add_column("variant", no_wrap=True)
    table.add_column(a.metric, justify="right", no_wrap=True)
    if a.majority is not None:
        table.add_column("beats majority", justify="right", no_wrap=True)
    for name in ("target", "shots", "prompt tok", "compl. tok", "cost/call", "cost/month"):
        table.add_column(name, justify="right")
    table.add_column("dominated by", no_wrap=True)
    for v in a.variants:
        f = v.figures
        mark = " *" if f.variant == a.chosen else ""
        versus = [_versus(f.versus_majority)]
        table.add_row(
            f.variant + mark,
            str(f.score),
            *(versus if a.majority is not None else []),
            _reached(v),
            f"{f.shots:g}",
            f"{f.prompt_tokens:,.0f}",
            f"{f.completion_tokens:,.0f}",
            usd(v.cost_per_call),
            usd(v.cost_per_month) if a.volume is not None else "-",
            v.dominated_by or ON_FRONT,
        )
    caption = ["dominated: a cheaper variant is not significantly worse (paired 95% interval)"]
    if a.chosen:
        caption.insert(
            0, "* the cheapest variant on the cost-quality front that reaches the target"
        )
    table.caption = "\n".join(caption)
    return table


def _curve(steps: Sequence[StepAdvice], volume: float | None) -> Table:
    table = Table(title="Shots curve: what each extra example buys (paired on the same rows)")
    table.add_column("prompt | model", no_wrap=True)
    table.add_column("k", justify="right")
    for name in ("gain [95%]", "per shot", "+prompt tok", "+cost/call", "+cost/month"):
        table.add_column(name, justify="right")
    table.add_column("pays?")
    for s in steps:
        g = s.step.gain
        gain = g.interval_text()
        table.add_row(
            f"{s.step.prompt} | {s.step.model}{s.step.line[2]}",
            f"{s.step.k_from:g}->{s.step.k_to:g}",
            gain,
            f"{s.gain_per_shot:+.4f}" if g.n else "-",
            f"{s.extra_prompt_tokens:+,.0f}",
            usd(s.extra_cost_per_call),
            usd(s.extra_cost_per_month) if volume is not None else "-",
            ("yes: " if s.pays else "no: ") + s.why,
        )
    return table


def _finetune(ft: FineTuneFigures, a: Advice) -> Text:
    if ft.measured is not None:
        return _measured(ft.measured, a)

    def tokens(value: float | None) -> str:
        return "unknown" if value is None else f"{value:,.0f}"

    payback = (
        f", {months(ft.break_even_months)} months at the given volume"
        if ft.break_even_months is not None
        else ""
    )
    lines = [
        "Assumed (no tuned/ variant in the run): if a fine-tuned model matched "
        f"{ft.baseline} ({ft.baseline_shots:g} shots) zero-shot:",
        f"  shot tokens no longer sent per call: {tokens(ft.shot_tokens_saved)}"
        f" (zero-shot prompt: {tokens(ft.zero_shot_prompt_tokens)} tokens)",
        f"  cost per call: {usd(ft.baseline_cost_per_call)} -> "
        f"{usd(ft.finetuned_cost_per_call)} (saving {usd(ft.saving_per_call)}"
        + (f", {usd(ft.saving_per_month)}/month)" if a.volume is not None else ")"),
        f"  one-off training: {tokens(ft.training_tokens)} tokens (estimate) x {ft.epochs} "
        f"epochs = {usd(ft.training_cost)}",
        "  break-even: "
        + (
            f"{ft.break_even_calls:,.0f} calls{payback}"
            if ft.break_even_calls is not None
            else "never"
            if ft.saving_per_call is not None and ft.saving_per_call <= 0
            else "unknown"
        ),
    ]
    return Text("\n".join(lines))


def _measured(m: MeasuredTuning, a: Advice) -> Text:
    t, d = m.training, m.difference
    wall = "unknown" if t.wall_s is None else f"{t.wall_s:,.0f} s"
    tokens = "unknown" if t.training_tokens is None else f"{t.training_tokens:,.0f}"
    hosting = f" + {usd(m.hosting_cost)}/month hosting" if m.hosting_cost is not None else ""
    lines = [
        f"Measured: {m.tuned} against {m.against} (paired on {d.n} rows):",
        f"  {a.metric}: {m.score}; difference {d.interval_text()}, paired p={d.p_value:.2g}",
        f"  trained: {t.method} on {t.base}, {t.examples} labelled examples, {tokens} tokens, "
        f"{wall} on {t.device}",
        f"  prompt tokens per call: {m.prompt_tokens:,.0f} (measured)",
        f"  {m.route}: {usd(m.cost_per_call)} per call{hosting} against "
        f"{usd(m.prompt_cost_per_call)}; saving "
        + (f"{usd(m.monthly_saving)}/month" if m.monthly_saving is not None else "unknown"),
        f"  one-off training: {usd(m.training_cost)}"
        + (
            f", paid back in {months(m.payback_months)} months"
            if m.payback_months is not None
            else ""
        ),
    ]
    return Text("\n".join(lines))
