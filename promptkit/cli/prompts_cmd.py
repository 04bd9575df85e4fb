"""``promptkit prompts``: list prompt families and their versions."""

from __future__ import annotations

import click


@click.command("prompts")
@click.option(
    "--prompts-dir", default="prompts", show_default=True, help="Folder of prompt families."
)
def command(prompts_dir: str) -> int:
    """List families, versions, content hashes and declared inputs."""
    from rich.console import Console
    from rich.table import Table

    from promptkit.define.prompts import PromptLibrary

    library = PromptLibrary(prompts_dir)
    table = Table("prompt", "hash", "inputs", "parser", "description")
    for prompt in library:
        table.add_row(
            prompt.ref,
            prompt.hash,
            ", ".join(prompt.meta.inputs),
            str(prompt.meta.parser.get("type", "text")),
            prompt.meta.description,
        )
    if not table.row_count:
        click.echo(f"no prompts under {prompts_dir}/ (add {prompts_dir}/<family>/v1.jinja)")
        return 0
    Console().print(table)
    return 0
