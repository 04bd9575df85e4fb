"""The functions the CLI calls; Python users call the same ones."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from promptkit.define.datasets import Row
from promptkit.define.prompts import Message, PromptLibrary
from promptkit.errors import BadInput
from promptkit.paths import DEFAULT_ROOT
from promptkit.run.estimate import DryRun, dry_run
from promptkit.run.plan import Planner
from promptkit.run.preflight import enforce, preflight
from promptkit.run.runner import ProgressCallback, RunResult, run_suite
from promptkit.suite import Suite, Variant, load_suite

__all__ = ["estimate", "evaluate", "render_prompt"]


def evaluate(
    suite: str | Path | Suite,
    *,
    models: Sequence[str] = (),
    prompts: Sequence[str] = (),
    limit: int | None = None,
    concurrency: int | None = None,
    root: str | Path = DEFAULT_ROOT,
    on_progress: ProgressCallback | None = None,
    strict: bool = False,
    **options: Any,
) -> RunResult:
    """Load (if needed) and run a suite; ``models``/``prompts`` replace the suite's lists.

    ``strict``: refuse to start (:class:`BadInput`) on what
    :func:`promptkit.run.preflight.preflight` finds: request parameters a model does not
    know, reference labels no parser produces.
    Further ``options`` are those of :class:`promptkit.run.runner.RunOptions`: ``rpm``,
    ``timeout``, ``retries``, ``cache``, ``refresh``, ``max_cost``, ``api_base``,
    ``resume``.
    """
    selected = _select(suite, models, prompts)
    if strict:
        enforce(preflight(selected))
    return run_suite(
        selected,
        root=root,
        on_progress=on_progress,
        limit=limit,
        concurrency=concurrency,
        **options,
    )


def estimate(
    suite: str | Path | Suite,
    *,
    models: Sequence[str] = (),
    prompts: Sequence[str] = (),
    root: str | Path = DEFAULT_ROOT,
    **options: Any,
) -> DryRun:
    """What :func:`evaluate` would send: requests, cache hits, prompt tokens, cost."""
    return dry_run(_select(suite, models, prompts), root=root, **options)


def _select(suite: str | Path | Suite, models: Sequence[str], prompts: Sequence[str]) -> Suite:
    loaded = suite if isinstance(suite, Suite) else load_suite(suite)
    if models:
        loaded = loaded.with_models(models)
    if prompts:
        loaded = loaded.with_prompts(prompts)
    return loaded


def render_prompt(
    ref: str,
    *,
    variables: Mapping[str, Any] | None = None,
    suite: str | Path | None = None,
    row: str | None = None,
    shots: int = 0,
    prompts_dir: str | Path = "prompts",
) -> list[Message]:
    """The messages ``ref`` produces, from explicit variables or a suite's row and pool."""
    if suite is None:
        if shots:
            raise BadInput("--shots needs --suite", hint="the suite names the example pool")
        return PromptLibrary(prompts_dir).get(ref).render(dict(variables or {}))
    loaded = load_suite(suite).with_prompts([ref])
    planner = Planner(loaded)
    chosen = _find_row(loaded, row)
    variant = Variant(loaded.prompts[0], loaded.models[0], shots)
    if shots and loaded.pool is None:
        raise BadInput("the suite has no example pool", path=loaded.path, hint="add 'examples:'")
    if variables:
        # --var names template variables; the row holds dataset columns ({var: column}).
        overrides = {loaded.inputs.get(name, name): value for name, value in variables.items()}
        chosen = Row(chosen.id, {**chosen.data, **overrides}, chosen.line)
    messages, _ = planner.render(variant, chosen)
    return messages


def _find_row(suite: Suite, row: str | None) -> Row:
    rows = suite.dataset.rows
    if row is None:
        return rows[0]
    for candidate in rows:
        if candidate.id == row:
            return candidate
    if row.isdigit() and 1 <= int(row) <= len(rows):
        return rows[int(row) - 1]
    raise BadInput(
        f"no row {row!r} in the dataset",
        path=suite.dataset.path,
        hint=f"give a row id or a position from 1 to {len(rows)}",
    )
