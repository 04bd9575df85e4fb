"""What ``promptkit eval`` and ``promptkit merge`` print about a finished run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from rich.console import Console

    from promptkit.api import PrResult
    from promptkit.results.summary import VariantSummary
    from promptkit.run.runner import RunResult

__all__ = [
    "error_summary",
    "finish_pr",
    "print_summaries",
    "report_pr",
    "report_run",
    "window_line",
]


def report_pr(console: Console, pr: PrResult) -> None:
    """The comparison with the baseline and the gate's verdict, when there are any."""
    from promptkit.report.gate_terminal import baseline_table, gate_table

    if pr.verdict.outcome is not None:
        table = baseline_table(pr.verdict.outcome)
        if table is not None:
            console.print(table)
    if pr.verdict.gate is not None:
        console.print(gate_table(pr.verdict.gate))


def report_run(console: Console, result: RunResult, per_class: bool) -> None:
    print_summaries(console, result.summaries, per_class)
    console.print(
        f"run {result.run_id}: {result.cases} cases, {result.errors} errors -> {result.path}"
    )
    speeds = ", ".join(f"{m} {v:g}" for m, v in result.output_tokens_per_s.items())
    if speeds:
        console.print(f"answer tokens/s (per request): {speeds}")
    for model, window in result.concurrency.items():
        console.print(window_line(model, window), markup=False, highlight=False)
    if result.stopped:
        click.echo(f"promptkit: stopped early: {result.stopped}", err=True)


def window_line(model: str, window: Mapping[str, Any]) -> str:
    """``concurrency auto, oai/m: settled on 4 in flight (used 1-8, 0 drops, 1 latency cut)``."""
    cuts = window.get("latency_cuts", 0)
    return (
        f"concurrency auto, {model}: settled on {window.get('settled')} in flight "
        f"(used {window.get('lowest')}-{window.get('highest')}, ends at {window.get('final')}; "
        f"{window.get('drops', 0)} cut(s) for 429/503/timeouts, {cuts} for latency)"
    )


#: Distinct error messages printed after a run; the journal holds every one.
ERRORS_SHOWN = 5


def error_summary(result: RunResult, allow_errors: bool) -> str:
    """How many cases failed, then each distinct error with its count, most frequent first."""
    exit_hint = "" if allow_errors else " (--allow-errors to exit 0)"
    lines = [f"promptkit: {result.errors} case(s) failed{exit_hint}:"]
    shown = result.error_counts[:ERRORS_SHOWN]
    width = len(str(shown[0][1])) if shown else 1
    lines += [f"  {count:>{width}} x {message}" for message, count in shown]
    rest = result.error_counts[ERRORS_SHOWN:]
    if rest:
        cases = sum(count for _, count in rest)
        lines.append(f"  and {len(rest)} more distinct errors ({cases} cases)")
    lines.append(f"  every error is in the error column of {result.path / 'journal.jsonl'}")
    return "\n".join(lines)


def print_summaries(console: Console, summaries: Sequence[VariantSummary], per_class: bool) -> None:
    """The summary table, then the trivial-answer, judge, shots, retrieval, reasoning and
    per-class tables where they apply."""
    from promptkit.report import terminal

    metrics = list(summaries[0].scores) if summaries else []
    console.print(terminal.summary_table(summaries, metrics))
    trivial = terminal.trivial_table(summaries, metrics)
    if trivial is not None:
        console.print(trivial)
    for table in (terminal.judges_table(summaries), terminal.judge_calibration_table(summaries)):
        if table is not None:
            console.print(table)
    print_tradeoffs(console, summaries, metrics)
    for s in summaries if per_class else []:
        if s.classification is not None:
            console.print(terminal.class_table(s.variant, s.classification))
            console.print(terminal.confusion_table(s.variant, s.classification))


def print_tradeoffs(
    console: Console, summaries: Sequence[VariantSummary], metrics: Sequence[str]
) -> None:
    """The shots sweep, the retrieval sweep and the reasoning trade-off, where they apply."""
    from promptkit.report import terminal
    from promptkit.results.reasoning import reasoning_tradeoffs
    from promptkit.results.sweeps import docs_sweep, shots_sweep

    sweep = shots_sweep(summaries, metrics)
    if sweep:
        console.print(terminal.shots_table(sweep, metrics))
    passages = docs_sweep(summaries, metrics)
    if passages:
        console.print(terminal.docs_table(passages, metrics))
    tradeoffs = reasoning_tradeoffs(summaries, metrics[0]) if metrics else []
    if tradeoffs:
        console.print(terminal.reasoning_table(tradeoffs))


def finish_pr(
    console: Console, pr: PrResult, *, html: str | None, allow_errors: bool, enforce: bool
) -> int:
    """After the run's tables: the comparison and gate, the HTML report, the errors;
    the exit code (3: cases errored), or GateFailed when ``enforce`` and a rule failed."""
    report_pr(console, pr)
    if html:
        from promptkit.report.html import write_html_report

        click.echo(f"report -> {write_html_report(pr.run.path, html)}")
    if pr.run.errors:
        click.echo(error_summary(pr.run, allow_errors), err=True)
    if pr.run.errors and not allow_errors:
        return 3
    if enforce:
        pr.raise_for_failure()
    return 0
