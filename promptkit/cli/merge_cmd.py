"""``promptkit merge``: the shard runs of one suite joined into one run, judged as one."""

from __future__ import annotations

import os

import click

from promptkit.cli.options import note_runs_root
from promptkit.cli.run_report import finish_pr, report_run


@click.command("merge")
@click.argument("runs", nargs=-1, required=True, metavar="RUN_OR_DIR...")
@click.option(
    "--gate",
    is_flag=True,
    help="Exit 1 when a gate rule the shards ran with fails on the merged rows.",
)
@click.option("--no-cache", is_flag=True, help="Leave the shards' response caches out.")
@click.option(
    "--junit",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Write JUnit XML: one testcase per row and variant.",
)
@click.option(
    "--markdown",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Write a Markdown summary (also appended to $GITHUB_STEP_SUMMARY when set).",
)
@click.option(
    "--save-baseline",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Write the merged run's per-row scores as a baseline file to commit.",
)
@click.option("--html", type=click.Path(dir_okay=False), help="Also write the HTML report here.")
@click.option("--allow-errors", is_flag=True, help="Exit 0 even when some cases errored.")
@click.option(
    "--per-class", is_flag=True, help="Per-class figures and confusion matrix (label tasks)."
)
def command(
    runs: tuple[str, ...],
    gate: bool,
    no_cache: bool,
    junit: str | None,
    markdown: str | None,
    save_baseline: str | None,
    html: str | None,
    allow_errors: bool,
    per_class: bool,
) -> int:
    """Merge the runs of 'promptkit eval --shard I/N' into one run of all rows.

    RUN_OR_DIR is a run id, a run folder, or a folder holding shard runs (e.g. the
    downloaded artifacts of a CI matrix, each a .promptkit folder); every shard must
    be there once. The merged run's summary, comparison, gate, JUnit and Markdown
    are those an unsharded run would give. Response caches found in the folders join
    this project's cache.

    \b
    Exit codes: 0 ok, 1 gate failed (--gate), 2 shards that do not belong together,
    3 some cases errored (--allow-errors relaxes this).
    """
    from rich.console import Console

    from promptkit.api import merge_runs
    from promptkit.errors import BadInput

    note_runs_root()
    pr = merge_runs(
        runs,
        cache=not no_cache,
        junit=junit,
        markdown=markdown,
        step_summary=os.environ.get("GITHUB_STEP_SUMMARY") or None,
        save_baseline=save_baseline,
    )
    if gate and pr.verdict.gate is None:
        raise BadInput(
            "the shards ran without gate rules",
            hint="give the suite a 'gate:' or run the shards with --min/--max-regression",
        )
    console = Console() if Console().is_terminal else Console(width=200)
    report_run(console, pr.run, per_class)
    return finish_pr(console, pr, html=html, allow_errors=allow_errors, enforce=gate)
