"""The per-variant table printed by ``promptkit eval``."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from promptkit.summary import VariantSummary

__all__ = ["summary_table"]


def _best(summaries: Sequence[VariantSummary], metric: str) -> str | None:
    scored = [s for s in summaries if s.scores.get(metric) and s.scores[metric].n]
    if len(scored) < 2:
        return None
    top = max(s.scores[metric].mean for s in scored)
    leaders = [s for s in scored if s.scores[metric].mean == top]
    return leaders[0].variant if len(leaders) == 1 else None


def summary_table(summaries: Sequence[VariantSummary], metrics: Sequence[str]) -> Table:
    """One line per variant: rows, each metric with its 95% interval, errors, tokens, latency."""
    table = Table(title="95% intervals in brackets; * marks the best mean of each metric")
    for name in ("prompt", "model"):
        table.add_column(name, no_wrap=True)
    for name in ("shots", "rows"):
        table.add_column(name, justify="right")
    for metric in metrics:
        table.add_column(metric, justify="right", no_wrap=True)
    for name in ("errors", "tokens/call", "latency"):
        table.add_column(name, justify="right")
    best = {m: _best(summaries, m) for m in metrics}
    for s in summaries:
        cells = [s.prompt, s.model, s.shots, str(s.cases)]
        for metric in metrics:
            mark = " *" if best[metric] == s.variant else ""
            cells.append(f"{s.scores[metric]}{mark}")
        tokens = s.prompt_tokens + s.completion_tokens
        cells += [str(s.errors), f"{tokens:.0f}", f"{s.latency_s * 1000:.0f} ms"]
        table.add_row(*cells)
    return table
