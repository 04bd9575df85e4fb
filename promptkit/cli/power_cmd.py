"""``promptkit power``: how many rows a paired comparison needs, from a pilot run."""

from __future__ import annotations

import json
from dataclasses import asdict

import click

from promptkit.cli.options import note_runs_root


@click.command("power")
@click.argument("run", required=False)
@click.option("--mde", type=click.FloatRange(0, 1, min_open=True), help="Difference to detect.")
@click.option(
    "--power",
    "power",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.8,
    show_default=True,
    help="Chance of detecting a difference of --mde.",
)
@click.option(
    "--alpha",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.05,
    show_default=True,
    help="Two-sided significance level of the paired test.",
)
@click.option("--metric", "metrics", multiple=True, help="Only this metric (repeatable).")
@click.option("--a", "a", help="Baseline variant: its id or a unique part (cls@v1, k=0).")
@click.option("--b", "b", help="The other variant of the pilot pair.")
@click.option("--json", "as_json", is_flag=True, help="Print the plans as JSON.")
def command(
    run: str | None,
    mde: float | None,
    power: float,
    alpha: float,
    metrics: tuple[str, ...],
    a: str | None,
    b: str | None,
    as_json: bool,
) -> int:
    """Rows needed to detect a difference, and what RUN's rows can detect.

    RUN (default: the latest) is the pilot: the share of rows on which two variants
    disagree (pass/fail metrics) or the spread of their per-row differences (graded)
    gives, for the paired test compare and the gate use, the smallest difference its
    rows detect with --power, and with --mde the rows needed to detect that. With one
    variant the pilot is two of its repeats. With repeats it also says whether more
    rows or more repeats would narrow the interval more.
    """
    from promptkit.results.power import plan_run
    from promptkit.results.store import load_run

    note_runs_root()
    frame = load_run(run)
    plans = plan_run(frame, a=a, b=b, metrics=metrics, mde=mde, power=power, alpha=alpha)
    if as_json:
        click.echo(json.dumps([asdict(p) for p in plans], indent=2, default=str))
        return 0
    for plan in plans:
        click.echo("\n".join(plan.lines()))
    return 0
