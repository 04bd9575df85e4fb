"""``promptkit advise``: keep the prompt, change the shots, retrieve examples or fine-tune?"""

from __future__ import annotations

import click

from promptkit.cli.options import FiniteFloatRange, note_runs_root

_PRICE = FiniteFloatRange(min=0)


@click.command("advise")
@click.argument("run", required=False)
@click.option("--metric", help="The score to decide on (default: the run's first metric).")
@click.option("--volume", type=FiniteFloatRange(min=0), help="Calls per month in production.")
@click.option(
    "--labelled",
    type=click.IntRange(min=0),
    help="Labelled examples you have (default: the suite's example pool, less any row "
    "that is also an evaluation row).",
)
@click.option("--target", type=FiniteFloatRange(0, 1), help="The score you need, 0 to 1.")
@click.option("--input-price", type=_PRICE, help="USD per 1M prompt tokens (default: litellm).")
@click.option("--output-price", type=_PRICE, help="USD per 1M completion tokens.")
@click.option("--ft-input-price", type=_PRICE, help="USD per 1M prompt tokens, fine-tuned model.")
@click.option("--ft-output-price", type=_PRICE, help="USD per 1M completion tokens, fine-tuned.")
@click.option(
    "--training-price",
    type=_PRICE,
    help="USD per 1M training tokens (litellm's map has none, so without it the one-off "
    "cost and break-even stay unknown).",
)
@click.option(
    "--hosting-cost",
    type=_PRICE,
    help="USD per month to serve a tuned/ model yourself; without it a tuned model is "
    "priced as a hosted fine-tune (--ft-*-price per call, --training-price once).",
)
@click.option(
    "--epochs",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Training epochs of the assumed fine-tune (a tuned/ model's are measured).",
)
@click.option(
    "--payback-months",
    type=FiniteFloatRange(min=0, min_open=True),
    default=12.0,
    show_default=True,
    help="Fine-tuning must pay back within this many months.",
)
@click.option(
    "--runs-dir", default=".promptkit/runs", show_default=True, help="Where runs are stored."
)
@click.option("--json", "as_json", is_flag=True, help="Print the figures and decision as JSON.")
def command(
    run: str | None,
    metric: str | None,
    volume: float | None,
    labelled: int | None,
    target: float | None,
    input_price: float | None,
    output_price: float | None,
    ft_input_price: float | None,
    ft_output_price: float | None,
    training_price: float | None,
    hosting_cost: float | None,
    epochs: int,
    payback_months: float,
    runs_dir: str,
    as_json: bool,
) -> int:
    """Recommend what to do next from RUN's measurements (default: the latest run)."""
    from rich.console import Console

    from promptkit.advise import PriceOptions, advise_run
    from promptkit.report.advice import advice_report

    note_runs_root(runs_dir)
    advice = advise_run(
        run,
        metric=metric,
        volume=volume,
        labelled=labelled,
        target=target,
        prices=PriceOptions(
            input=input_price,
            output=output_price,
            ft_input=ft_input_price,
            ft_output=ft_output_price,
            training=training_price,
        ),
        epochs=epochs,
        payback_months=payback_months,
        hosting_cost=hosting_cost,
        root=runs_dir,
    )
    if as_json:
        click.echo(advice.to_json())
        return 0
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)
    console.print(advice_report(advice))
    return 0
