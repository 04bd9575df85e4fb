"""``promptkit report``: one self-contained HTML page for a stored run."""

from __future__ import annotations

import click

from promptkit.cli.options import note_runs_root


@click.command("report")
@click.argument("run", required=False)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="Write the page here (default: report.html in the run folder).",
)
@click.option(
    "--baseline",
    help="Variant the others are compared with: its id or a unique part of it "
    "(default: the run's baseline, else its first variant).",
)
def command(run: str | None, output: str | None, baseline: str | None) -> int:
    """Write an HTML report of RUN (an id, a prefix of one, or a folder; default: the latest).

    The page has the per-variant table with intervals and paired differences, plots,
    every row side by side with filters and search, the rendered prompts and their
    diffs, and the run's metadata. It loads nothing from any network.
    """
    from promptkit.report.html import write_html_report

    note_runs_root()
    path = write_html_report(run, output, baseline=baseline)
    click.echo(f"report -> {path} ({path.stat().st_size / 1024:,.0f} KiB)")
    return 0
