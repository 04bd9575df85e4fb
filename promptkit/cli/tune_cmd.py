"""``promptkit tune``: train a soft prompt, prefix or LoRA adapter on a suite's pool."""

from __future__ import annotations

import json
import os
import time
from typing import TYPE_CHECKING, Any

import click

from promptkit.cli.options import FiniteFloatRange

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from promptkit.tune import TuneProgress, TuneResult

_METHODS = ("prompt-tuning", "prefix-tuning", "lora")  # promptkit.tune.METHODS, for --help


@click.command("tune")
@click.argument("suite", type=click.Path())
@click.option("--method", type=click.Choice(_METHODS), default="lora", show_default=True)
@click.option(
    "--prompt",
    "ref",
    metavar="FAMILY@vN",
    help="The prompt that frames every input "
    "(default: the suite's only prompt); serve the tuned model with the same one.",
)
@click.option("--base", default="hf/smollm2", show_default=True, help="The hf/ model to tune.")
@click.option(
    "--epochs",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Passes over the training rows, at most (early stopping may end sooner).",
)
@click.option("--steps", type=click.IntRange(min=1), help="At most this many optimizer steps.")
@click.option(
    "--lr",
    type=FiniteFloatRange(min=0, min_open=True),
    help="Learning rate (default: 0.03 prompt tuning, 0.01 prefix tuning, 0.001 LoRA).",
)
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
@click.option(
    "--virtual-tokens",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Soft prompt or prefix length (prompt and prefix tuning).",
)
@click.option(
    "--rank", type=click.IntRange(min=1), default=8, show_default=True, help="LoRA rank r."
)
@click.option(
    "--size",
    "sizes",
    type=click.IntRange(min=1),
    multiple=True,
    help="Train on the first N rows of one seeded order of the pool; repeat for a "
    "data-efficiency curve (one model per size, named <id>-n<N>).",
)
@click.option(
    "--validation-share",
    type=FiniteFloatRange(0, 1, max_open=True),
    default=0.2,
    show_default=True,
    help="Pool rows held out for early stopping (0: none).",
)
@click.option(
    "--patience",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Validation measurements without improvement before stopping.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--name", help="The tuned model's id (default: FAMILY-vN-METHOD).")
@click.option("--replace", is_flag=True, help="Train again over an existing tuned model.")
@click.option("--device", help="auto (default): cuda, then mps, then cpu.")
@click.option("--json", "as_json", is_flag=True, help="Print the saved manifests as JSON.")
def command(
    suite: str,
    method: str,
    ref: str | None,
    base: str,
    epochs: int,
    steps: int | None,
    lr: float | None,
    batch_size: int,
    virtual_tokens: int,
    rank: int,
    sizes: tuple[int, ...],
    validation_share: float,
    patience: int,
    seed: int,
    name: str | None,
    replace: bool,
    device: str | None,
    as_json: bool,
) -> int:
    """Train a tuned model on SUITE's example pool (never its evaluation rows) and save
    it as .promptkit/tuned/<id>/; evaluate it as the model tuned/<id>.

    Each pool row is framed zero-shot by --prompt; the loss is the reference answer's
    tokens. A seeded share of the pool is held out, and training keeps the adapter
    with the lowest validation loss. Needs: pip install "promptkit[tune]".
    """
    from promptkit.suite import load_suite
    from promptkit.tune import TrainSettings, tune

    loaded = load_suite(suite)
    if ref is None and len(loaded.prompts) != 1:
        refs = ", ".join(p.ref for p in loaded.prompts)
        raise click.UsageError(f"the suite has several prompts ({refs}); pick one with --prompt")
    loaded = loaded.with_prompts([ref]) if ref else loaded
    settings = TrainSettings(
        method=method,
        epochs=epochs,
        max_steps=steps,
        lr=lr,
        batch_size=batch_size,
        virtual_tokens=virtual_tokens,
        rank=rank,
        patience=patience,
        seed=seed,
    )
    _quiet_transformers()
    with _Display(as_json) as show:
        results = tune(
            loaded,
            loaded.prompts[0],
            settings,
            base=base,
            sizes=sizes,
            validation_share=validation_share,
            name=name,
            replace=replace,
            device=device,
            progress=show,
        )
    if as_json:
        for result in results:
            click.echo(json.dumps({"folder": str(result.folder), **_asdict(result)}))
    else:
        _print(results)
    return 0


def _quiet_transformers() -> None:
    """Our progress bar replaces transformers' per-tensor loading bars (the GGUF one is
    a bare tqdm, which only its environment variable turns off)."""
    os.environ.setdefault("TQDM_DISABLE", "1")
    try:
        from transformers.utils import logging

        logging.disable_progress_bar()
    except ImportError:
        pass  # tune reports the missing extra with the install command


def _asdict(result: TuneResult) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(result.manifest)


class _Display:
    """A rich bar with the losses on a terminal; a line every few seconds otherwise."""

    def __init__(self, quiet: bool) -> None:
        from rich.console import Console

        self.console = Console(stderr=True)
        self.quiet, self.last = quiet, 0.0
        self.bar: Progress | None = None
        self.tasks: dict[str, TaskID] = {}

    def __enter__(self) -> Any:
        if not self.quiet and self.console.is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn
            from rich.progress import Progress as RichProgress

            self.bar = RichProgress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[detail]}"),
                console=self.console,
                transient=True,
            )
            self.bar.start()
        return self

    def __call__(self, p: TuneProgress) -> None:
        t = p.train
        held = f"  validation {t.validation_loss:.3f}" if t.validation_loss is not None else ""
        detail = f"loss {t.train_loss:.3f}{held}  {t.tokens_per_s:.0f} tok/s"
        if self.bar is not None:
            if p.id not in self.tasks:
                self.tasks[p.id] = self.bar.add_task(p.id, total=t.total, detail="")
            self.bar.update(self.tasks[p.id], total=t.total, completed=t.step, detail=detail)
        elif not self.quiet and (t.step == t.total or time.monotonic() - self.last >= 5):
            self.last = time.monotonic()
            click.echo(f"tune {p.id} step {t.step}/{t.total}  {detail}", err=True)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


def _print(results: list[TuneResult]) -> None:
    for result in results:
        m, f = result.manifest, result.manifest.figures
        best = f.get("best_validation_loss")
        held = (
            f", best validation loss {best:.3f} at step {f['best_step']}"
            if best is not None
            else ""
        )
        rate = f.get("tokens_per_s")
        click.echo(
            f"{m.model}: {m.method} on {m.base}, {m.examples} examples ({m.validation} held out), "
            f"{f['steps']} steps ({f['stopped']}){held}; {f['wall_s']:.1f} s on {f['device']}, "
            f"{rate if rate is not None else 'unknown'} tokens/s -> {result.folder}"
        )
    labels = results[0].manifest.labels if results else []
    scored = f", score_labels: [{', '.join(labels)}]" if labels else ""
    click.echo(
        f"evaluate it with the prompt it was trained with ({results[0].manifest.prompt}): "
        f"models: [{{name: {results[0].manifest.model}{scored}}}]"
    )
