"""The functions the CLI calls; Python users call the same ones."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from promptkit.ci.pipeline import GateRules, Verdict, prepare_pr
from promptkit.define.datasets import Row
from promptkit.define.prompts import Message, PromptLibrary
from promptkit.errors import BadInput, PromptError
from promptkit.paths import DEFAULT_ROOT, runs_root
from promptkit.run.caller import RunOptions
from promptkit.run.estimate import DryRun, dry_run
from promptkit.run.plan import Planner
from promptkit.run.preflight import enforce, preflight
from promptkit.run.runner import ProgressCallback, RunResult, run_suite
from promptkit.suite import Suite, Variant, load_suite, select_suite

__all__ = ["PrResult", "estimate", "evaluate", "evaluate_pr", "merge_runs", "render_prompt"]


def evaluate(
    suite: str | Path | Suite,
    options: RunOptions | None = None,
    *,
    models: Sequence[str] = (),
    prompts: Sequence[str] = (),
    root: str | Path = DEFAULT_ROOT,
    on_progress: ProgressCallback | None = None,
    strict: bool = False,
) -> RunResult:
    """Load (if needed) and run a suite; ``models``/``prompts`` replace the suite's lists.

    ``options`` (a :class:`~promptkit.run.caller.RunOptions`) sets ``limit``,
    ``concurrency`` (a number, or ``"auto"``: promptkit.run.adaptive), ``rpm``,
    ``timeout``, ``retries``, ``cache``, ``refresh``, ``max_cost``, ``api_base`` and
    ``resume``. ``strict``: refuse to start
    (:class:`BadInput`) on what :func:`promptkit.run.preflight.preflight` finds:
    request parameters a model does not know, reference labels no parser produces.
    """
    selected = select_suite(suite, models, prompts)
    if strict:
        enforce(preflight(selected))
    return run_suite(selected, options, root=root, on_progress=on_progress)


def estimate(
    suite: str | Path | Suite,
    options: RunOptions | None = None,
    *,
    models: Sequence[str] = (),
    prompts: Sequence[str] = (),
    root: str | Path = DEFAULT_ROOT,
) -> DryRun:
    """What :func:`evaluate` would send: requests, cache hits, prompt tokens, cost."""
    return dry_run(select_suite(suite, models, prompts), options, root=root)


@dataclass(frozen=True)
class PrResult:
    """A pull-request evaluation: the run, its comparison with the baseline, the verdict."""

    run: RunResult
    verdict: Verdict
    markdown: str | None  # the pull-request summary; None for a plain run

    @property
    def passed(self) -> bool:
        """True unless a gate rule failed (provider errors are ``run.errors``)."""
        return self.verdict.passed

    def raise_for_failure(self) -> None:
        """Raise :class:`~promptkit.errors.GateFailed` (exit code 1) when a rule failed."""
        self.verdict.raise_for_failure()


def evaluate_pr(
    suite: str | Path | Suite,
    options: RunOptions | None = None,
    *,
    baseline: str | None = None,
    baseline_run: str | Path | None = None,
    gate: GateRules = False,
    junit: str | Path | None = None,
    markdown: str | Path | None = None,
    step_summary: str | Path | None = None,
    save_baseline: str | Path | None = None,
    models: Sequence[str] = (),
    prompts: Sequence[str] = (),
    root: str | Path = DEFAULT_ROOT,
    on_progress: ProgressCallback | None = None,
    strict: bool = False,
) -> PrResult:
    """Run ``suite`` for a pull request: compare with a baseline, judge the gate, write CI files.

    ``baseline`` is a git ref (its prompt versions run beside yours, on the same rows);
    ``baseline_run`` a stored run or a committed baseline file. ``gate`` adds rules to
    the suite's ``gate:`` (same shape), or ``True`` to require that the suite has some.
    ``junit``/``markdown``/``save_baseline`` are files to write; ``step_summary`` a file
    the Markdown is appended to (``$GITHUB_STEP_SUMMARY`` on GitHub Actions).
    ``strict`` is :func:`evaluate`'s. The verdict is returned, never raised: call
    :meth:`PrResult.raise_for_failure`.
    """
    pr = prepare_pr(
        suite,
        models=models,
        prompts=prompts,
        baseline=baseline,
        baseline_run=baseline_run,
        gate=gate,
        root=root,
    )
    if strict:
        enforce(preflight(pr.suite))
    result = run_suite(pr.suite, options, root=pr.root, on_progress=on_progress)
    wants_report = bool(junit or markdown or step_summary or save_baseline)
    sharded = options is not None and options.shard is not None
    verdict = pr.conclude(result.path, reread=wants_report, shard=sharded)
    text = _write_ci_files(verdict, junit, markdown, step_summary, save_baseline, pr.root)
    return PrResult(result, verdict, text)


def merge_runs(
    runs: Sequence[str | Path],
    *,
    cache: bool = True,
    junit: str | Path | None = None,
    markdown: str | Path | None = None,
    step_summary: str | Path | None = None,
    save_baseline: str | Path | None = None,
    root: str | Path = DEFAULT_ROOT,
) -> PrResult:
    """Merge the shard runs ``runs`` (ids, run folders, or folders holding them) into one.

    The merged run's summary, baseline comparison and gate (the rules the shards ran
    with) are computed on all rows, as an unsharded run's would be. With ``cache``,
    response caches found beside the shard runs join this project's cache. The CI
    files are :func:`evaluate_pr`'s; the verdict is returned, never raised.
    """
    from promptkit.ci.baseline import LINK_FILE
    from promptkit.ci.gate import GATE_RULES_FILE, GateSpec, load_gate_rules
    from promptkit.ci.pipeline import conclude_run
    from promptkit.results.merge import merge_shards
    from promptkit.run.cache import ResponseCache
    from promptkit.run.caller import default_cache_path

    root = runs_root(root)
    merged = merge_shards(runs, root, side_files=(LINK_FILE, GATE_RULES_FILE))
    if cache and merged.caches:
        target = ResponseCache(default_cache_path(root))
        try:
            for path in merged.caches:
                target.absorb(path)
        finally:
            target.close()
    spec = load_gate_rules(merged.folder) or GateSpec()
    wants_report = bool(junit or markdown or step_summary or save_baseline)
    verdict = conclude_run(merged.folder, spec, root, reread=True)
    text = _write_ci_files(verdict, junit, markdown, step_summary, save_baseline, root)
    figures = merged.figures
    result = RunResult(
        merged.folder.name,
        merged.folder,
        figures.summaries,
        figures.errors,
        figures.cases,
        figures.stopped,
        figures.output_tokens_per_s,
        figures.error_counts,
    )
    return PrResult(result, verdict, text if wants_report else None)


def _write_ci_files(
    verdict: Verdict,
    junit: str | Path | None,
    markdown: str | Path | None,
    step_summary: str | Path | None,
    save_baseline: str | Path | None,
    root: str | Path,
) -> str | None:
    """JUnit, Markdown (to a file and appended to the step summary), a baseline file."""
    from promptkit.ci.baseline import save_baseline_file
    from promptkit.report.junit import write_junit
    from promptkit.report.markdown import render_markdown

    outcome = verdict.outcome
    if outcome is None:
        return None
    if junit:
        write_junit(outcome, junit, verdict.gate)
    text = render_markdown(outcome, verdict.gate)
    if markdown:
        _write(Path(markdown), text)
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as summary:
            summary.write(text + "\n")
    if save_baseline:
        save_baseline_file(outcome.path, save_baseline, root=root)
    return text


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, "utf-8")


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
    messages, _ = _render(ref, variables, suite, row, shots, prompts_dir)
    return messages


def render_request(
    ref: str,
    *,
    variables: Mapping[str, Any] | None = None,
    suite: str | Path | None = None,
    row: str | None = None,
    shots: int = 0,
    prompts_dir: str | Path = "prompts",
) -> dict[str, Any]:
    """The request body as sent: ``messages`` and the parameters (``tools``,
    ``tool_choice``, ``response_format``, sampling); with a suite, its and the first
    model's parameters too."""
    messages, params = _render(ref, variables, suite, row, shots, prompts_dir)
    return {"messages": [m.to_dict() for m in messages], **params}


def _render(
    ref: str,
    variables: Mapping[str, Any] | None,
    suite: str | Path | None,
    row: str | None,
    shots: int,
    prompts_dir: str | Path,
) -> tuple[list[Message], dict[str, Any]]:
    if suite is None:
        if shots:
            raise BadInput("shots need a suite", hint="the suite names the example pool")
        prompt = PromptLibrary(prompts_dir).get(ref)
        missing = [name for name in prompt.meta.inputs if name not in (variables or {})]
        if missing:
            raise PromptError(
                f"missing input {missing[0]!r} declared by {prompt.ref}",
                path=prompt.path,
                hint=f"pass --var {missing[0]}=VALUE, or --suite to take a dataset row",
            )
        # a --var's JSON turns: the user's own text, rendered to look at
        return prompt.render(dict(variables or {}), raw_conversations=True), dict(
            prompt.meta.params
        )
    loaded = load_suite(suite).with_prompts([ref])
    chosen = _find_row(loaded, row)
    variant = Variant(loaded.prompts[0], loaded.models[0], shots, _render_docs(loaded))
    if shots and loaded.pool is None:
        raise BadInput("the suite has no example pool", path=loaded.path, hint="add 'examples:'")
    if variables:
        # --var names template variables; the row holds dataset columns ({var: column}).
        overrides = {loaded.inputs.get(name, name): value for name, value in variables.items()}
        chosen = Row(chosen.id, {**chosen.data, **overrides}, chosen.line)
        # A --var the suite does not map is a variable of its own, not a missing input.
        extra = {name: name for name in variables if name not in loaded.inputs}
        loaded = replace(loaded, inputs={**loaded.inputs, **extra})
    planner = Planner(loaded)
    messages, _ = planner.render(variant, chosen, planner.passages(variant, chosen))
    return messages, dict(planner.params(variant))


def _render_docs(suite: Suite) -> int | None:
    """The passages ``render --suite`` shows: the most the suite's sweep retrieves."""
    if suite.retrieval is None:
        return None
    return max(suite.retrieval.counts) if suite.prompts[0].uses_documents else 0


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
