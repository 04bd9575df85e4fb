"""``promptkit init``: scaffold a prompt, a suite, datasets, a CI workflow and a hook."""

from __future__ import annotations

import shlex
from pathlib import Path

import click


@click.command("init")
@click.argument("directory", default=".", type=click.Path())
@click.option(
    "--from-dataset",
    type=click.Path(),
    help="Build the label task from this .jsonl, .csv or .yaml file instead of the example.",
)
@click.option("--input", "input_column", default="text", show_default=True, help="Text column.")
@click.option("--label", "label_column", default="label", show_default=True, help="Label column.")
@click.option("--id", "id_column", help="Column with unique row ids (default: content hashes).")
@click.option("--name", help="Prompt family and suite name (default: the dataset's file name).")
@click.option(
    "--pool-fraction",
    type=float,  # checked by the split, in one line
    default=0.2,
    show_default=True,
    help="Share of each label's rows kept as few-shot examples, never scored.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the split.")
def command(
    directory: str,
    from_dataset: str | None,
    input_column: str,
    label_column: str,
    id_column: str | None,
    name: str | None,
    pool_fraction: float,
    seed: int,
) -> int:
    """Write prompts/NAME/v1.jinja, evals/NAME.yaml, datasets/, a GitHub workflow
    (.github/workflows/promptkit.yml) and .pre-commit-config.yaml into DIRECTORY
    (default: here). Existing files are kept, never overwritten. The suite runs on
    local/smollm2: no key, no server.

    \b
    promptkit init
    promptkit init --from-dataset data.jsonl --input text --label label
    """
    from promptkit.scaffold import init_project

    result = init_project(
        directory,
        from_dataset=from_dataset,
        input_column=input_column,
        label_column=label_column,
        name=name,
        id_column=id_column,
        pool_fraction=pool_fraction,
        seed=seed,
    )
    for path in result.written:
        click.echo(f"wrote {path.as_posix()}")
    for path in result.kept:
        click.echo(f"kept {path.as_posix()} (it exists; not overwritten)")
    click.echo("\nNext:")
    if result.root.resolve() != Path.cwd().resolve():
        click.echo(f"  cd {shlex.quote(str(result.root))}")
    for line in result.next_commands:
        click.echo(f"  {line}")
    return 0
