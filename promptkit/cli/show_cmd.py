"""``promptkit show``: reprint a stored run's summary, comparison and gate verdict."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from promptkit.cli.options import note_runs_root


@click.command("show")
@click.argument("run", required=False)
@click.option(
    "--root",
    default=".promptkit/runs",
    show_default=True,
    help="Folder of runs (by default the project's: the nearest folder at or above this one "
    "with .promptkit/, prompts/ or evals/).",
)
@click.option(
    "--markdown", type=click.Path(dir_okay=False), metavar="FILE", help="Write a Markdown summary."
)
@click.option(
    "--junit", type=click.Path(dir_okay=False), metavar="FILE", help="Write the JUnit XML."
)
@click.option(
    "--save-baseline",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Write the run's per-row scores as a baseline file to commit.",
)
def command(
    run: str | None, root: str, markdown: str | None, junit: str | None, save_baseline: str | None
) -> int:
    """Reprint RUN (an id, a unique prefix or a folder; default: the latest run)."""
    from rich.console import Console

    from promptkit.ci.baseline import load_outcome, save_baseline_file
    from promptkit.ci.gate import load_gate_result
    from promptkit.cli.run_report import print_tradeoffs, window_line
    from promptkit.report.gate_terminal import baseline_table, gate_table
    from promptkit.report.terminal import summary_table, trivial_table

    note_runs_root(root)
    folder = _with_summary(run, root)
    outcome = load_outcome(folder, root=root)
    gate = load_gate_result(outcome.path)
    console = Console() if Console().is_terminal else Console(width=200)
    console.print(_header(outcome.meta, outcome.run_id))
    console.print(summary_table(outcome.summaries + outcome.base_summaries, outcome.metrics))
    trivial = trivial_table(outcome.summaries, outcome.metrics)
    if trivial is not None:
        console.print(trivial)
    print_tradeoffs(console, outcome.summaries, outcome.metrics)
    for model, window in _windows(outcome.path).items():
        console.print(window_line(model, window), markup=False, highlight=False)
    table = baseline_table(outcome)
    if table is not None:
        console.print(table)
    if gate is not None:
        console.print(gate_table(gate))
    if markdown:
        from promptkit.report.markdown import render_markdown

        Path(markdown).write_text(render_markdown(outcome, gate), "utf-8")
    if junit:
        from promptkit.report.junit import write_junit

        write_junit(outcome, junit, gate)
    if save_baseline:
        click.echo(f"baseline file: {save_baseline_file(outcome.path, save_baseline, root=root)}")
    return 0


def _windows(folder: Path) -> dict[str, Any]:
    """The ``concurrency: auto`` windows summary.json recorded; none for a run that was
    killed before writing it, or whose summary failed."""
    from promptkit.results.run_summary import SUMMARY_FILE

    try:
        summary = json.loads((folder / SUMMARY_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    windows = summary.get("concurrency") if isinstance(summary, dict) else None
    return windows if isinstance(windows, dict) else {}


def _with_summary(run: str | None, root: str) -> Path:
    """The run's folder, its summary.json rebuilt from the journal if building it failed."""
    from promptkit.results.run_summary import rebuild_summary
    from promptkit.results.store import RunStore

    folder = RunStore(root).find(run)
    if rebuild_summary(folder) is not None:
        click.echo(f"summary rebuilt from the journal -> {folder / 'summary.json'}", err=True)
    return folder


def _header(meta: dict[str, object], run_id: str) -> str:
    git = meta.get("git") or {}
    assert isinstance(git, dict)
    commit = str(git.get("commit") or "no commit")[:7]
    dirty = " (uncommitted changes)" if git.get("dirty") else ""
    prompts = meta.get("prompts") or {}
    assert isinstance(prompts, dict)
    hashes = ", ".join(f"{ref} {info.get('hash')}" for ref, info in prompts.items())
    return (
        f"run {run_id}  suite {meta.get('suite')}  created {meta.get('created')}\n"
        f"git {commit}{dirty}\nprompts {hashes}"
    )
