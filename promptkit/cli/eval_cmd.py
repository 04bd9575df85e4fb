"""``promptkit eval``: run a suite, print one line per variant, store the run."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import click

from promptkit.cli.ci_options import CiFlags, ci_options
from promptkit.cli.options import FiniteFloatRange, concurrency, note_runs_root
from promptkit.cli.run_report import finish_pr, report_run

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress as RichProgress
    from rich.progress import TaskID

    from promptkit.api import PrResult
    from promptkit.run.caller import RunOptions
    from promptkit.run.estimate import DryRun
    from promptkit.run.runner import Progress
    from promptkit.suite import Suite

_LATEST = "latest"
_POSITIVE = FiniteFloatRange(min=0, min_open=True)


@click.command("eval")
@click.argument("suite", type=click.Path())
@click.option(
    "--model", "models", multiple=True, help="Run these models instead of the suite's (repeatable)."
)
@click.option(
    "--prompt",
    "prompts",
    multiple=True,
    help="Run these prompt versions instead of the suite's (repeatable).",
)
@click.option("--limit", type=click.IntRange(min=1), help="Score only the first N rows.")
@click.option(
    "--shard",
    metavar="I/N|auto",
    help="Run only shard I of N (rows split by a hash of their id; 'auto' reads the index "
    "from PROMPTKIT_SHARD, JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID); "
    "'promptkit merge' joins the shards' runs.",
)
@click.option(
    "--executor",
    type=click.Choice(["local", "ray"]),
    help="Where in-process models (local/, hf/) run: here (default) or on Ray actors, "
    "one model instance each ('actors', 'num_cpus', 'num_gpus' in the model entry).",
)
@click.option(
    "--ray-address",
    metavar="ADDR",
    help="The Ray cluster for --executor ray (default: RAY_ADDRESS, else a local one).",
)
@click.option(
    "--concurrency",
    metavar="N|auto",
    callback=concurrency,
    help="Requests in flight per model, or 'auto': start at 1, grow while latency holds, "
    "cut on 429s, timeouts and latency blow-ups (for servers you run yourself).",
)
@click.option("--rpm", type=_POSITIVE, help="Requests started per minute per model.")
@click.option("--timeout", type=_POSITIVE, help="Seconds allowed per request attempt.")
@click.option(
    "--retries", type=click.IntRange(min=0), help="Attempts after the first (429, 5xx, timeouts)."
)
@click.option("--api-base", help="OpenAI-compatible endpoint for every model (http://host/v1).")
@click.option(
    "--resume",
    is_flag=False,
    flag_value=_LATEST,
    default=None,
    metavar="[RUN]",
    help="Continue a run (default: this suite's latest): ask only missing and errored cases.",
)
@click.option("--no-cache", is_flag=True, help="Neither read nor write the response cache.")
@click.option("--refresh", is_flag=True, help="Ask again and overwrite cached answers.")
@click.option(
    "--max-cost",
    type=FiniteFloatRange(min=0),
    help="Stop sending requests once this many dollars are spent.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Render everything, estimate requests, tokens and cost; call nothing.",
)
@click.option("--allow-errors", is_flag=True, help="Exit 0 even when some cases errored.")
@click.option(
    "--strict",
    is_flag=True,
    help="Refuse to run (exit 2) on request params a model does not know, or reference "
    "labels the parser can never produce; without it they are warnings.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
@ci_options
@click.option("--html", type=click.Path(dir_okay=False), help="Also write the HTML report here.")
@click.option(
    "--per-class", is_flag=True, help="Per-class figures and confusion matrix (label tasks)."
)
def command(
    suite: str,
    models: tuple[str, ...],
    prompts: tuple[str, ...],
    dry_run: bool,
    allow_errors: bool,
    strict: bool,
    quiet: bool,
    html: str | None,
    per_class: bool,
    **flags: Any,
) -> int:
    """Run every variant of SUITE (prompt version x model x shots) and print the scores.

    \b
    Exit codes: 0 passed, 1 gate failed (--gate), 2 bad input,
    3 provider errors (some cases failed; --allow-errors relaxes this).
    """
    from rich.console import Console

    ci, rest = CiFlags.split(flags)
    options = _run_options(**rest)
    pr_options = ci.pr_options()
    selected = _preflight(suite, models, prompts, strict)
    if dry_run:
        from promptkit.api import estimate
        from promptkit.ci.pipeline import prepare_pr

        prepared = prepare_pr(selected, **_preparing(pr_options))
        click.echo(_dry_run_report(estimate(prepared.suite, options)))
        return 0
    console = Console()
    if not console.is_terminal:
        console = Console(width=200)  # a log file is not 80 columns wide; don't fold the table
    note_runs_root(suite=selected.path)
    pr = _evaluate(suite, selected, options, pr_options, console, quiet)
    report_run(console, pr.run, per_class)
    scoring = [m.name for m in selected.models if m.options.get("score_labels") is not None]
    if scoring:  # their replies were chosen by likelihood, not generated
        others = "; the other models generated" if len(scoring) < len(selected.models) else ""
        console.print(
            f"label scoring (no text generated): {', '.join(scoring)}{others}", markup=False
        )
    if options.shard is not None:
        console.print(
            f"shard {options.shard}: these rows only; 'promptkit merge' joins the shards' "
            "runs and judges the gate on all of them"
        )
    return finish_pr(console, pr, html=html, allow_errors=allow_errors, enforce=ci.enforcing)


def _preparing(pr_options: dict[str, Any]) -> dict[str, Any]:
    """The part of evaluate_pr's options that decides what runs (for the dry run)."""
    return {k: pr_options[k] for k in ("baseline", "baseline_run", "gate")}


def _preflight(suite: str, models: Sequence[str], prompts: Sequence[str], strict: bool) -> Suite:
    """The selected suite, after a warning line per preflight finding (before any call);
    with ``--strict`` the first finding is the error instead."""
    from promptkit.run.preflight import enforce, preflight
    from promptkit.suite import select_suite

    selected = select_suite(suite, models, prompts)
    findings = preflight(selected)
    if strict:
        enforce(findings)
    for finding in findings:
        click.echo(f"promptkit: warning: {finding}", err=True)
    return selected


def _evaluate(
    suite_path: str,
    suite: Suite,
    options: RunOptions,
    pr_options: dict[str, Any],
    console: Console,
    quiet: bool,
) -> PrResult:
    """Run the suite behind a progress display; on Ctrl-C, say how to resume it."""
    from promptkit.api import evaluate_pr

    display = _progress_display(console, quiet)
    try:
        with display as on_progress:
            return evaluate_pr(suite, options, on_progress=on_progress, **pr_options)
    except KeyboardInterrupt:
        if display.run_id:
            click.echo(
                f"promptkit: resume with: promptkit eval {suite_path} --resume {display.run_id}",
                err=True,
            )
        raise


def _run_options(
    *,
    no_cache: bool,
    refresh: bool,
    resume: str | None,
    **flags: Any,
) -> RunOptions:
    from promptkit.run.caller import RunOptions
    from promptkit.run.shards import parse_shard

    given = {k: v for k, v in flags.items() if v is not None}
    if "shard" in given:
        given["shard"] = parse_shard(given["shard"])
    picked: bool | str = False if resume is None else (True if resume == _LATEST else resume)
    return RunOptions(cache=not no_cache, refresh=refresh, resume=picked, **given)


def _dry_run_report(plan: DryRun) -> str:
    cost = "unknown" if plan.cost is None else f"${plan.cost:.4f}"
    lines = [
        f"requests:       {plan.requests} ({plan.cached} answered from the cache)",
        f"prompt tokens:  ~{plan.prompt_tokens} (estimated, uncached requests)",
        f"prompt cost:    {cost}",
    ]
    if plan.max_output_cost is not None:
        lines.append(f"answers cost:   at most ${plan.max_output_cost:.4f} (at max_tokens)")
    if plan.unpriced:
        lines.append(
            f"no price for:   {', '.join(plan.unpriced)} (add them under 'prices:' in the suite)"
        )
    return "\n".join(lines)


class _progress_display:
    """A rich progress bar on a terminal; a plain line every few seconds otherwise."""

    def __init__(self, console: Console, quiet: bool) -> None:
        self.console, self.quiet = console, quiet
        self.bar: RichProgress | None = None
        self.task: TaskID | None = None
        self.last_line = 0.0
        self.run_id = ""

    def __enter__(self) -> Callable[[Progress], None]:
        if self.quiet:
            return self._remember
        if not self.console.is_terminal:
            return self._print_line
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
        from rich.progress import Progress as RichProgress

        self.bar = RichProgress(
            TextColumn("eval"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        )
        self.bar.start()
        self.task = self.bar.add_task("eval", total=None, detail="")
        return self._update_bar

    @staticmethod
    def _detail(p: Progress) -> str:
        cost = f"  ${p.cost:.4f}" if p.cost else ""
        return (
            f"errors {p.errors}  cached {p.cache_hits}  tokens {p.tokens}{cost}  "
            f"{p.rate:.1f}/s  {p.output_tokens_per_s:.0f} tok/s"
        )

    def _remember(self, p: Progress) -> None:
        self.run_id = p.run_id

    def _update_bar(self, p: Progress) -> None:
        assert self.bar is not None and self.task is not None
        self.run_id = p.run_id
        self.bar.update(self.task, total=p.total, completed=p.done, detail=self._detail(p))

    def _print_line(self, p: Progress) -> None:
        self.run_id = p.run_id
        now = time.monotonic()
        if p.done == p.total or now - self.last_line >= 5:
            self.last_line = now
            click.echo(f"eval {p.done}/{p.total}  {self._detail(p)}", err=True)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
