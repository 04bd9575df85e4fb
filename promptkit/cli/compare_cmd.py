"""``promptkit compare``: paired differences between variants of one run or two runs."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import click

from promptkit.cli.options import note_runs_root

if TYPE_CHECKING:
    import pandas as pd
    from rich.console import Console

    from promptkit.results.compare import Comparison


@click.command("compare")
@click.argument("run", required=False)
@click.option("--a", "a", help="Baseline variant: its id or a unique part (cls@v1, k=0).")
@click.option("--b", "b", help="Variant compared with the baseline (of --run-b, if given).")
@click.option("--run-b", help="A second run: compare across runs on the same rows.")
@click.option("--metric", "metrics", multiple=True, help="Only this metric (repeatable).")
@click.option("--show", default=10, show_default=True, help="Flipped rows shown per direction.")
@click.option("--json", "as_json", is_flag=True, help="Print the comparisons as JSON.")
def command(
    run: str | None,
    a: str | None,
    b: str | None,
    run_b: str | None,
    metrics: tuple[str, ...],
    show: int,
    as_json: bool,
) -> int:
    """Paired differences, intervals, p-values and flipped rows for the variants of RUN.

    RUN is a run id, a unique prefix or a folder (default: the latest run). Without
    --a/--b every variant is compared with the first one; with --run-b, each variant
    with the same variant of the second run, or, when the runs used different models,
    with the variant of the same prompt and shots. p-values are Holm-adjusted across
    all the comparisons printed.
    """
    from promptkit.results.compare import compare_many, pair_variants
    from promptkit.results.store import load_run

    note_runs_root()
    frame_a = load_run(run)
    frame_b = load_run(run_b) if run_b else None
    other = frame_b if frame_b is not None else frame_a
    chosen = _metrics(frame_a, other, metrics)
    pairing = pair_variants(frame_a, frame_b, a=a, b=b)
    comparisons = compare_many(pairing.pairs, frame_a, other, chosen)
    if as_json:
        data = [_as_dict(c, pairing.how) for c in comparisons]
        click.echo(json.dumps(data, indent=2, default=str))
        return 0
    if pairing.how:
        click.echo(f"variants of the two runs {pairing.how}")
    _print(comparisons, frame_a, other, show)
    return 0


def _metrics(frame_a: pd.DataFrame, frame_b: pd.DataFrame, wanted: tuple[str, ...]) -> list[str]:
    from promptkit.errors import BadInput
    from promptkit.results.compare import run_metrics

    available = run_metrics(frame_a, frame_b)
    unknown = [m for m in wanted if m not in available]
    if unknown or not available:
        raise BadInput(
            f"no metric {unknown[0]!r} in the run(s)" if unknown else "the run(s) share no metric",
            hint=f"metrics: {', '.join(available) or 'none'}",
        )
    return list(wanted) or available


def _as_dict(comparison: Comparison, how: str) -> dict[str, Any]:
    return asdict(comparison) | ({"paired": how} if how else {})


def _print(
    comparisons: list[Comparison], frame_a: pd.DataFrame, frame_b: pd.DataFrame, show: int
) -> None:
    from rich.console import Console

    from promptkit.report.terminal import comparison_table, flipped_table
    from promptkit.results.compare import flipped_rows

    console = Console() if _is_terminal() else Console(width=200)
    for comparison in comparisons:
        console.print(comparison_table(comparison))
        for m in comparison.metrics:
            if not (m.fixed or m.broken) or show <= 0:
                continue
            fixed = flipped_rows(frame_a, comparison.a, frame_b, comparison.b, m.fixed[:show])
            broken = flipped_rows(frame_a, comparison.a, frame_b, comparison.b, m.broken[:show])
            console.print(flipped_table(m.metric, fixed, broken))
            _more(console, len(m.fixed) + len(m.broken) - len(fixed) - len(broken))


def _is_terminal() -> bool:
    from rich.console import Console

    return Console().is_terminal


def _more(console: Console, hidden: int) -> None:
    if hidden > 0:
        console.print(f"... and {hidden} more flipped row(s) (--show N, or --json for all)")
