"""``promptkit render``: show the messages a model would receive."""

from __future__ import annotations

import json

import click

from promptkit.cli.options import parse_vars


@click.command("render")
@click.argument("ref")
@click.option(
    "--var", "variables", multiple=True, metavar="NAME=VALUE", help="A template input (repeatable)."
)
@click.option(
    "--suite",
    "suite_path",
    type=click.Path(),
    help="Take inputs, examples and retrieved passages (as many as the suite's largest "
    "retrieval k) from this suite.",
)
@click.option("--row", help="With --suite: a row id, or a 1-based row position.")
@click.option(
    "--shots",
    type=int,
    default=0,
    show_default=True,
    help="Few-shot examples to include (needs --suite).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the messages as JSON.")
@click.option(
    "--request",
    "as_request",
    is_flag=True,
    help="Print the request body as JSON: messages, tools, tool_choice, response_format "
    "(local/ also lists the tools in the system turn; oai/'s schema_as reshapes "
    "response_format).",
)
@click.option(
    "--prompts-dir",
    default="prompts",
    show_default=True,
    help="Folder of prompt families when no suite is given.",
)
def command(
    ref: str,
    variables: tuple[str, ...],
    suite_path: str | None,
    row: str | None,
    shots: int,
    as_json: bool,
    as_request: bool,
    prompts_dir: str,
) -> int:
    """Print REF's messages exactly as the model receives them, e.g. sentiment@v2."""
    from promptkit.api import render_prompt, render_request

    if as_request:
        request = render_request(
            ref,
            variables=parse_vars(variables),
            suite=suite_path,
            row=row,
            shots=shots,
            prompts_dir=prompts_dir,
        )
        click.echo(json.dumps(request, ensure_ascii=False, indent=2))
        return 0
    messages = render_prompt(
        ref,
        variables=parse_vars(variables),
        suite=suite_path,
        row=row,
        shots=shots,
        prompts_dir=prompts_dir,
    )
    if as_json:
        click.echo(json.dumps([m.to_dict() for m in messages], ensure_ascii=False, indent=2))
        return 0
    for message in messages:
        click.secho(f"--- {message.role} ---", bold=True)
        click.echo(message.content)
    return 0
