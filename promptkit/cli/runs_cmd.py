"""``promptkit runs``: the stored runs, newest last."""

from __future__ import annotations

import json
from dataclasses import asdict

import click

from promptkit.cli.options import note_runs_root


@click.command("runs")
@click.option(
    "--root",
    default=".promptkit/runs",
    show_default=True,
    help="Folder of runs (by default the project's: the nearest folder at or above this one "
    "with .promptkit/, prompts/ or evals/).",
)
@click.option("--last", "last", type=int, help="Only the N most recent runs.")
@click.option("--json", "as_json", is_flag=True, help="Print the records as JSON lines.")
def command(root: str, last: int | None, as_json: bool) -> int:
    """List stored runs: id, date, git commit (dirty: uncommitted changes), suite,
    variants, cases, errors and the best score of each metric."""
    from promptkit.results.history import list_runs

    folder = note_runs_root(root)
    records = list_runs(folder)
    if last:
        records = records[-last:]
    if as_json:
        for record in records:
            click.echo(json.dumps({**asdict(record), "path": str(record.path)}, ensure_ascii=False))
        return 0
    if not records:
        click.echo(f"no runs under {folder}/ (run 'promptkit eval SUITE' first)")
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table()
    for name in ("run", "date", "commit", "suite", "variants", "cases", "errors", "headline"):
        table.add_column(name, no_wrap=name != "headline")
    for r in records:
        commit = (r.commit[:7] if r.commit else "-") + (" (dirty)" if r.dirty else "")
        headline = "; ".join(f"{m} {mean:.3f} ({v})" for m, (mean, v) in r.headline.items())
        if r.gate is not None:
            headline += f"; gate {'passed' if r.gate else 'failed'}"
        table.add_row(
            r.id,
            (r.created or "-").replace("T", " ")[:16],
            commit,
            r.suite or "-",
            str(r.variants),
            "unfinished" if r.cases is None else str(r.cases),
            "-" if r.errors is None else str(r.errors),
            headline or "-",
        )
    console = Console() if Console().is_terminal else Console(width=200)
    console.print(table)
    return 0
