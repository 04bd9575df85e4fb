"""``promptkit tuned``: the project's tuned models, oldest first."""

from __future__ import annotations

import json
from dataclasses import asdict

import click


@click.command("tuned")
@click.option("--json", "as_json", is_flag=True, help="Print the manifests as JSON lines.")
def command(as_json: bool) -> int:
    """List the tuned models in this project's .promptkit/tuned/: model name, method,
    base, examples, best validation loss, training time and device."""
    from promptkit.tune import list_tuned, tuned_root

    found = list_tuned()
    if as_json:
        for manifest in found:
            click.echo(json.dumps(asdict(manifest)))
        return 0
    if not found:
        click.echo(f"no tuned models in {tuned_root()} (train one with: promptkit tune SUITE)")
        return 0
    for m in found:
        f = m.figures
        best = f.get("best_validation_loss")
        loss = f"{best:.3f}" if isinstance(best, float) else "-"
        click.echo(
            f"{m.model}  {m.method}  {m.base}  prompt {m.prompt}  {m.examples} examples  "
            f"validation loss {loss}  {f.get('steps')} steps  {f.get('wall_s')} s "
            f"on {f.get('device')}  {m.created}"
        )
    return 0
