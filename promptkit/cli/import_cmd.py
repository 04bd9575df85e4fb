"""``promptkit import promptfoo CONFIG``: a promptfoo config as promptkit files."""

from __future__ import annotations

import click


@click.group("import")
def command() -> None:
    """Convert another tool's eval config into prompts, suites and datasets."""


@command.command("promptfoo")
@click.argument("config", type=click.Path())
@click.option(
    "-o",
    "--output",
    "out_dir",
    type=click.Path(file_okay=False),
    default=".",
    show_default=True,
    help="Folder that receives prompts/, evals/ and datasets/.",
)
@click.option("--name", help="Name of the prompt family and suite (default: the config's stem).")
@click.option("--strict", is_flag=True, help="Exit 1 when anything was not converted.")
def promptfoo(config: str, out_dir: str, name: str | None, strict: bool) -> int:
    """Write CONFIG's prompts, providers, tests and assertions as promptkit files.

    What has no promptkit counterpart (javascript/python assertions, transforms,
    other providers, unknown keys) is listed on stderr with its file and line; the
    exit code stays 0 unless --strict. Existing files are never overwritten.
    """
    from promptkit.importers.promptfoo import import_promptfoo

    result = import_promptfoo(config, out_dir, name=name)
    for path in result.written:
        click.echo(f"wrote {path}")
    for skipped in result.skipped:
        click.echo(f"warning: {skipped}", err=True)
    if result.suites:
        click.echo(f"next: promptkit check && promptkit eval {result.suites[0]}")
    if strict and result.skipped:
        click.echo(f"{len(result.skipped)} items not converted (--strict)", err=True)
        return 1
    return 0
