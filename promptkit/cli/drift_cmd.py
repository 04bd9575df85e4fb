"""``promptkit drift``: re-ask pinned canary suites, fresh, and test them against baselines."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from promptkit.cli.options import FiniteFloatRange

if TYPE_CHECKING:
    from promptkit.ci.drift import DriftReport, Reported, SuiteDrift


@click.command("drift")
@click.argument("suites", nargs=-1, required=True, type=click.Path())
@click.option(
    "--against",
    "baselines",
    multiple=True,
    required=True,
    metavar="FILE",
    help="The suite's baseline file (from --save-baseline): one per suite, in the same "
    "order, or one folder holding SUITE_NAME.json for each.",
)
@click.option(
    "--margin",
    type=FiniteFloatRange(min=0, max=1),
    default=0.02,
    show_default=True,
    help="A metric drifted when its mean moved by more than this (and significantly).",
)
@click.option(
    "--alpha",
    type=FiniteFloatRange(min=0, max=1, min_open=True, max_open=True),
    default=0.05,
    show_default=True,
    help="Significance level, after Holm's correction across all metrics and suites.",
)
@click.option(
    "--regressions-only", is_flag=True, help="Count drops only; by default any change is drift."
)
@click.option("--limit", type=click.IntRange(min=1), help="Ask only the first N rows.")
@click.option("--api-base", help="OpenAI-compatible endpoint for every model (http://host/v1).")
@click.option("--allow-errors", is_flag=True, help="Exit 0 without drift even if cases errored.")
def command(
    suites: tuple[str, ...],
    baselines: tuple[str, ...],
    margin: float,
    alpha: float,
    regressions_only: bool,
    limit: int | None,
    api_base: str | None,
    allow_errors: bool,
) -> None:
    """Re-ask each SUITE with the cache bypassed and test every metric against its baseline.

    \b
    Paired test per metric, Holm-adjusted across all metrics of all suites; prints the
    model names and system fingerprints the endpoints reported, before and after.
    Exit codes: 0 no drift, 1 a metric drifted, 2 bad input, 3 provider errors.
    """
    from promptkit.ci.drift import check_drift
    from promptkit.errors import ProviderError
    from promptkit.run.caller import RunOptions

    report = check_drift(
        suites,
        baselines,
        margin=margin,
        alpha=alpha,
        regressions_only=regressions_only,
        options=RunOptions(limit=limit, api_base=api_base),
    )
    click.echo(render_drift(report))
    report.raise_for_drift()
    if report.errors and not allow_errors:
        raise ProviderError(
            f"{report.errors} cases failed; their rows were left out of the drift tests "
            "(see 'promptkit show RUN'; --allow-errors exits 0 anyway)"
        )


def render_drift(report: DriftReport) -> str:
    """The report as text: per suite the reported models, then one line per metric."""
    direction = "drops only" if report.regressions_only else "either direction"
    tests = f"{len(report.metrics)} metric test{'' if len(report.metrics) == 1 else 's'}"
    lines = [
        f"drift: {tests}, Holm across all; drift = p < "
        f"{report.alpha:g} and a move beyond {report.margin:g} ({direction})"
    ]
    for suite in report.suites:
        lines.append(f"{suite.suite}: run {suite.run.run_id} against {suite.baseline}")
        lines += [f"  {line}" for line in _reported_lines(suite)]
        lines += [f"  note: {note}" for note in suite.notes]
        for metric in report.metrics:
            if metric.suite == suite.suite:
                lines.append(f"  {'DRIFT' if metric.drifted else 'same '} {metric}")
    return "\n".join(lines)


def _reported_lines(suite: SuiteDrift) -> list[str]:
    lines = []
    for model in sorted(set(suite.before) | set(suite.after)):
        for key, what in (("models", "model"), ("fingerprints", "fingerprint")):
            before, after = _names(suite.before, model, key), _names(suite.after, model, key)
            change = "unchanged" if before == after else "CHANGED"
            lines.append(f"{model}: reported {what} {before} -> {after} ({change})")
    return lines


def _names(reported: Reported, model: str, key: str) -> str:
    names = reported.get(model, {}).get(key, [])
    return ", ".join(names) if names else "(not reported)"
