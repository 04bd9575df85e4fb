"""``promptkit export finetune``: fine-tuning JSONL from a suite's example pool, validated."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from promptkit.cli.options import FiniteFloatRange

if TYPE_CHECKING:
    from promptkit.export import FinetuneReport

_FORMATS = ("chat", "completion")
_MAX_TOKENS = 16_385  # promptkit.export.DEFAULT_MAX_TOKENS, without importing it for --help


@click.group("export")
def command() -> None:
    """Export data for use outside promptkit."""


@command.command("finetune")
@click.argument("suite", required=False, type=click.Path())
@click.option("--prompt", "ref", metavar="FAMILY@vN", help="The template the model will be served.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="The training JSONL file.")
@click.option(
    "--validation-split",
    type=FiniteFloatRange(0, 1, max_open=True),
    default=0.0,
    show_default=True,
    help="Share of rows held out in <output stem>.validation.jsonl.",
)
@click.option("--format", "fmt", type=click.Choice(_FORMATS), help="chat (default) or completion.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the split.")
@click.option("--check", "check_file", type=click.Path(dir_okay=False), help="Validate FILE.")
@click.option("--model", help="The model to fine-tune; picks the tokenizer.")
@click.option(
    "--max-tokens",
    type=click.IntRange(min=1),
    default=_MAX_TOKENS,
    show_default=True,
    help="Tokens allowed per example; longer ones are truncated in training.",
)
@click.option("--epochs", type=click.IntRange(min=1), help="Default: OpenAI's rule for the size.")
@click.option("--training-price", type=FiniteFloatRange(min=0), help="USD per 1M training tokens.")
@click.option(
    "--with-reasoning",
    metavar="COLUMN",
    help="Put the pool's reasoning (this column) before each answer, with the prompt "
    "parser's answer_after marker.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def finetune(
    suite: str | None,
    ref: str | None,
    output: str | None,
    validation_split: float,
    fmt: str | None,
    seed: int,
    check_file: str | None,
    model: str | None,
    max_tokens: int,
    epochs: int | None,
    training_price: float | None,
    with_reasoning: str | None,
    as_json: bool,
) -> int:
    """Write SUITE's example pool as fine-tuning data, or --check an existing file.

    Rows come from the example pool, never the evaluation rows, rendered zero-shot
    with --prompt; the reference answer is the assistant message.
    """
    from promptkit.export import check_finetune, export_finetune
    from promptkit.run.pricing import PER_MILLION

    price = None if training_price is None else training_price / PER_MILLION
    if check_file is not None:
        if suite is not None:
            raise click.UsageError("give either SUITE or --check FILE, not both")
        report = check_finetune(
            check_file,
            fmt=fmt,
            model=model,
            max_tokens=max_tokens,
            epochs=epochs,
            training_price=price,
        )
        _print([report], [], as_json)
        _fail_on_errors(report)
        return 0
    if suite is None or ref is None or output is None:
        raise click.UsageError("export finetune needs SUITE, --prompt FAMILY@vN and -o FILE")
    from promptkit.suite import load_suite

    loaded = load_suite(suite).with_prompts([ref])
    result = export_finetune(
        loaded,
        loaded.prompts[0],
        output,
        fmt=fmt or "chat",
        validation_split=validation_split,
        seed=seed,
        model=model,
        max_tokens=max_tokens,
        epochs=epochs,
        training_price=price,
        with_reasoning=with_reasoning,
    )
    reports = [result.train, *([result.validation] if result.validation else [])]
    _print(reports, result.notes, as_json)
    return 0


def _print(reports: list[FinetuneReport], notes: list[str], as_json: bool) -> None:
    if as_json:
        data = {"files": [r.to_dict() for r in reports], "notes": notes}
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    for report in reports:
        click.echo("\n".join(report.lines()))
    for note in notes:
        click.echo(f"note: {note}")


def _fail_on_errors(report: FinetuneReport) -> None:
    from promptkit.errors import DatasetError

    errors = report.errors
    if errors:
        kinds = sorted({p.kind for p in errors})
        lines = {p.line for p in errors}
        raise DatasetError(
            f"{len(lines)} invalid examples ({', '.join(kinds)})",
            path=report.path,
            line=errors[0].line,
            hint="fix the lines listed above",
        )
