"""Terminal views of a baseline comparison and of a gate verdict."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from promptkit.ci.baseline import RunOutcome
from promptkit.ci.gate import GateResult
from promptkit.results.compare import holm_note

__all__ = ["baseline_table", "gate_table"]

_STYLE = {"pass": "green", "fail": "bold red", "skip": "dim"}


def baseline_table(outcome: RunOutcome) -> Table | None:
    """Per variant and metric: head, base, the paired difference and the flipped rows."""
    if outcome.link is None:
        return None
    table = Table(
        title=f"against the baseline: {outcome.link.label} (difference = head - base)",
        caption=holm_note(outcome.family) if outcome.family else None,
    )
    table.add_column("variant", no_wrap=True)
    table.add_column("baseline", no_wrap=True)
    table.add_column("metric")
    for name in ("head", "base", "difference [95% CI] method", "p (Holm)", "fixed", "broken"):
        table.add_column(name, justify="right", no_wrap=True)
    for result in outcome.pairs:
        pair = result.pair
        if result.comparison is None:
            table.add_row(pair.head, Text(pair.note, style="dim"), *[""] * 7)
            continue
        for metric in result.comparison.metrics:
            diff = metric.difference
            table.add_row(
                pair.head,
                pair.base or "",
                metric.metric,
                f"{metric.b_mean:.3f}",
                f"{metric.a_mean:.3f}",
                diff.interval_text(),
                f"{metric.p_holm:.3g}" if diff.n else "-",
                str(len(metric.fixed)),
                str(len(metric.broken)),
            )
    return table


def gate_table(gate: GateResult) -> Table:
    failed = f"FAILED ({len(gate.failures)} of {len(gate.rules)} rules)"
    verdict = "passed" if gate.passed else failed
    table = Table(title=f"gate {verdict}")
    for name in ("", "rule", "variant", "figures"):
        table.add_column(name)
    for rule in gate.rules:
        style = _STYLE[rule.status]
        table.add_row(Text(rule.status.upper(), style=style), rule.rule, rule.variant, rule.figures)
    return table
