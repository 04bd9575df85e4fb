"""Runs a suite: each planned case goes to its provider, is parsed, scored and journaled.

A bounded window of cases is in flight at once; each sends its request through
the :class:`~promptkit.run.caller.Caller` (cache, concurrency and pacing per model,
budget, retries with a timeout, price), then the answer is parsed, scored,
appended to the journal, and counted. A case that fails becomes an error row; it
never stops the run. A model that refuses attempt after attempt (a dead endpoint,
a bad key) is no longer asked: its remaining cases become ``not asked`` error
rows at once (:mod:`promptkit.run.breaker`). A resumed run asks only the cases
its journal lacks or holds as errors. Nothing here prints: progress is reported
through a callback so the CLI (or a notebook) decides how to show it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from promptkit.define.datasets import Row
from promptkit.define.ensembles import ENSEMBLE_MODEL
from promptkit.define.parsers import Parsed, Parser, make_parser
from promptkit.define.structured import response_schema
from promptkit.define.tools import tool_schemas
from promptkit.errors import BadInput, ProviderError
from promptkit.paths import DEFAULT_ROOT, runs_root
from promptkit.providers import Completion, Request
from promptkit.providers.base import estimate_text_tokens
from promptkit.results.run_summary import record_summary
from promptkit.results.store import JournalRow, RunStore, RunWriter, finished_cases
from promptkit.results.summary import VariantSummary
from promptkit.run.caller import Caller, RunOptions, with_api_base
from promptkit.run.ensembles import ensemble_cases, ensembles_to_run
from promptkit.run.plan import CasePlan, Planner
from promptkit.run.preflight import refuse_unhonoured
from promptkit.run.pricing import Budget, BudgetReached, PriceBook
from promptkit.scorers import Case
from promptkit.suite import Suite

__all__ = ["Progress", "RunOptions", "RunResult", "run_suite", "run_suite_async"]


@dataclass
class Progress:
    """Counters the runner updates after every case."""

    total: int
    done: int = 0
    errors: int = 0
    cache_hits: int = 0
    tokens: int = 0
    cost: float = 0.0
    started: float = field(default_factory=time.perf_counter)
    run_id: str = ""
    completion_tokens: int = 0

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    @property
    def rate(self) -> float:
        """Cases per second."""
        elapsed = self.elapsed
        return self.done / elapsed if elapsed > 0 else 0.0

    @property
    def output_tokens_per_s(self) -> float:
        elapsed = self.elapsed
        return self.completion_tokens / elapsed if elapsed > 0 else 0.0


@dataclass(frozen=True)
class RunResult:
    run_id: str
    path: Path
    summaries: list[VariantSummary]
    errors: int
    cases: int
    #: Why the run ended before every case was asked (e.g. the --max-cost budget).
    stopped: str | None = None
    #: Per model, answer tokens per second of request time (fresh answers only).
    output_tokens_per_s: dict[str, float] = field(default_factory=dict)
    #: (error message, cases) for the failed cases, most frequent first.
    error_counts: list[tuple[str, int]] = field(default_factory=list)
    #: Per model with ``concurrency: auto``, the window it settled on (run/adaptive.py).
    concurrency: dict[str, dict[str, Any]] = field(default_factory=dict)


ProgressCallback = Callable[[Progress], None]


class _Execution:
    """One run: the caller, the prompts' parsers, the journal and the progress counters."""

    def __init__(
        self,
        suite: Suite,
        writer: RunWriter,
        caller: Caller,
        progress: Progress,
        on_progress: ProgressCallback | None,
        sharded: bool = False,
    ) -> None:
        self.suite, self.writer, self.caller = suite, writer, caller
        self.parsers: dict[str, Parser] = {
            prompt.ref: make_parser(prompt.meta.parser, path=prompt.path)
            for prompt in suite.prompts
        }
        self.progress = progress
        self.on_progress = on_progress
        self.sharded = sharded

    @property
    def width(self) -> int:
        return sum(lane.width for lane in self.caller.lanes.values())

    async def run_case(self, plan: CasePlan) -> None:
        row = self._base_row(plan)
        try:
            completion, attempts = await self.caller(plan.request)
            row = await self._score(plan, completion, row)
            row["attempts"] = attempts
        except BudgetReached:
            return  # never asked: not journaled, so a resume asks it
        except ProviderError as exc:
            row["error"] = str(exc)
        except Exception as exc:  # a provider bug must not end the whole run
            row["error"] = f"{type(exc).__name__}: {exc}"
        self.writer.append(row)
        self._count(row)

    async def run_ensembles(self, planner: Planner) -> None:
        """Journal each ensemble's combined answer, scored like any answer; no model call.
        A resumed run combines again: the new rows supersede the old."""
        specs, _ = ensembles_to_run(self.suite)
        if not specs:
            return
        rows = {row.id: row for row in planner.rows}
        folder = self.writer.folder
        for spec, row_id, repeat, members, combined, usage in ensemble_cases(specs, folder, rows):
            row = rows[row_id]
            journal: JournalRow = {
                "variant": spec.name,
                "prompt": spec.prompt,
                "prompt_hash": spec.rule,
                "model": ENSEMBLE_MODEL,
                "shots": "-",
                "shot_ids": [],
                "repeat": repeat,
                "row_id": row_id,
                "input": members[0]["input"],
                "expected": members[0]["expected"],
                "output": None,
                "parsed": None,
                "parse_error": None,
                "scores": {},
                "error": None,
            }
            if "row_index" in members[0]:  # a shard's: merge orders rows by it
                journal["row_index"] = members[0]["row_index"]
            parsed = Parsed(combined.value, combined.parse_error, combined.note)
            scored = await self._scored(row, parsed, usage, journal, None)
            if all(m.get("error") for m in members):
                scored["error"] = f"every member failed: {members[0].get('error')}"
            self.writer.append(scored)

    def _base_row(self, plan: CasePlan) -> JournalRow:
        row = self._case_row(plan)
        if plan.variant.docs is not None:  # only then: journals without retrieval stay lean
            row["docs"] = plan.variant.docs
            row["retrieved_ids"] = list(plan.retrieved_ids)
        if self.sharded:  # so that 'promptkit merge' can put the shards' rows back in order
            row["row_index"] = plan.position
        return row

    def _case_row(self, plan: CasePlan) -> JournalRow:
        variant = plan.variant
        reference = self.suite.reference
        return {
            "variant": variant.id,
            "prompt": variant.prompt.ref,
            "prompt_hash": variant.prompt.hash,
            "model": variant.model.name,
            "shots": "max" if variant.shots is None else variant.shots,
            "shot_ids": list(plan.shot_ids),
            "repeat": plan.repeat,
            "row_id": plan.row.id,
            "input": {v: plan.row.data[c] for v, c in self.suite.inputs.items()},
            "expected": plan.row.data.get(reference) if reference else None,
            "output": None,
            "parsed": None,
            "parse_error": None,
            "scores": {},
            "error": None,
        }

    async def _score(self, plan: CasePlan, completion: Completion, row: JournalRow) -> JournalRow:
        """``row`` with the answer, its scores and its usage."""
        parsed = _said_if_cut_off(
            self.parsers[plan.variant.prompt.ref].parse(completion.text), completion
        )
        return await self._scored(plan.row, parsed, completion, row, plan.request.params)

    async def _scored(
        self,
        data: Row,
        parsed: Parsed,
        completion: Completion,
        row: JournalRow,
        params: Mapping[str, Any] | None,
    ) -> JournalRow:
        """``row`` with the parsed answer of ``data`` scored, and its usage."""
        expected = data.data.get(self.suite.reference) if self.suite.reference else None
        usage = {"scorer_tokens": 0, "scorer_cost": 0.0}

        async def call(request: Request) -> Completion:
            answer, _ = await self.caller(request)
            usage["scorer_tokens"] += answer.prompt_tokens + answer.completion_tokens
            usage["scorer_cost"] += answer.cost or 0.0
            return answer

        case = Case(
            output=parsed.value,
            raw=completion.text,
            expected=expected,
            row=data.data,
            completion=completion,
            parse_error=parsed.error,
            parse_note=parsed.note,
            response_schema=response_schema(params or {}),
            tool_schemas=tool_schemas(params or {}),
            call=call,
            inputs={v: data.data[c] for v, c in self.suite.inputs.items()},
            retrieved_ids=_retrieved(row),
        )
        scores, labels, explanations, details, error = await self._apply_scorers(case)
        scored: JournalRow = {
            **row,
            "output": completion.text,
            "parsed": parsed.value,
            "parse_error": parsed.error,
            "parse_note": parsed.note,
            "scores": scores,
            "score_labels": labels,
            "score_explanations": explanations,
            "score_details": details,
            "error": error,
            "prompt_tokens": completion.prompt_tokens,
            "completion_tokens": completion.completion_tokens,
            "latency_s": round(completion.latency_s, 6),
            "cost": completion.cost,
            "cached": completion.cached,
            "finish_reason": completion.finish_reason,
            "label_probs": completion.label_probs,
            "reported_model": completion.reported_model,
            "system_fingerprint": completion.system_fingerprint,
            "scorer_tokens": int(usage["scorer_tokens"]),
            "scorer_cost": usage["scorer_cost"],
        }
        if parsed.reasoning is not None:  # the parser read the answer after its reasoning
            scored["reasoning"] = parsed.reasoning
            scored["reasoning_tokens"] = estimate_text_tokens(parsed.reasoning)
        if completion.tool_calls:  # only then: journals of text replies stay lean
            scored["tool_calls"] = [call.to_dict() for call in completion.tool_calls]
        return scored

    async def _apply_scorers(
        self, case: Case
    ) -> tuple[dict[str, float], dict[str, str], dict[str, str], dict[str, Any], str | None]:
        """Scores, labels, explanations and details per metric, and the first scorer error."""
        scores: dict[str, float] = {}
        labels: dict[str, str] = {}
        explanations: dict[str, str] = {}
        details: dict[str, Any] = {}
        error = None
        for bound in self.suite.scorers:
            try:
                score = await bound(case)
            except BudgetReached:
                raise
            except Exception as exc:  # one broken scorer is reported, not fatal
                error = f"scorer {bound.metric!r} failed: {type(exc).__name__}: {exc}"
                continue
            if score.explanation is not None:
                explanations[bound.metric] = score.explanation
            if score.skipped:  # nothing to judge on this row: in no mean, reason kept
                continue
            scores[bound.metric] = score.value
            if score.label is not None:
                labels[bound.metric] = score.label
            if score.details is not None:
                details[bound.metric] = score.details
        return scores, labels, explanations, details, error

    def _count(self, row: JournalRow) -> None:
        progress = self.progress
        progress.done += 1
        progress.errors += row["error"] is not None
        progress.cache_hits += bool(row.get("cached"))
        completion_tokens = int(row.get("completion_tokens") or 0)
        progress.tokens += int(row.get("prompt_tokens") or 0) + completion_tokens
        progress.completion_tokens += completion_tokens
        progress.cost += float(row.get("cost") or 0.0)
        if self.on_progress:
            self.on_progress(progress)


async def run_suite_async(
    suite: Suite,
    options: RunOptions | None = None,
    *,
    root: str | Path = DEFAULT_ROOT,
    on_progress: ProgressCallback | None = None,
) -> RunResult:
    """Run every variant of ``suite`` and store the run (by default in the project's
    ``.promptkit/runs``: see :func:`promptkit.paths.runs_root`)."""
    root = runs_root(root, suite=suite.path)
    settings = options or RunOptions()
    suite = with_api_base(suite, settings.api_base)
    planner = Planner(suite, limit=settings.limit, shard=settings.shard)
    planner.check_renders()  # template errors stop the run before any model is called
    refuse_unhonoured(suite)  # so does a response_format or tools a model would ignore
    budget = Budget(settings.max_cost)
    caller = Caller(suite, settings, budget, root)
    try:
        _check_budget_is_priceable(suite, settings, caller.prices)
        writer, done = _open_run(suite, settings, root, _shard_record(planner, settings))
    except BaseException:
        await caller.close()
        raise
    progress = Progress(total=_count_missing(planner, done), run_id=writer.id)
    execution = _Execution(suite, writer, caller, progress, on_progress, planner.sharded)
    try:
        await _drain(execution, (c for c in planner.cases() if c.key not in done), budget)
        await execution.run_ensembles(planner)
    finally:
        await caller.close()
        writer.close()
    return _finish(suite, writer, _why_stopped(budget, caller), caller.windows())


def _why_stopped(budget: Budget, caller: Caller) -> str | None:
    reasons = [r for r in (budget.reason(), caller.stopped()) if r]
    return "; ".join(reasons) or None


def _check_budget_is_priceable(suite: Suite, options: RunOptions, prices: PriceBook) -> None:
    if options.max_cost is None:
        return
    for model in suite.models:
        if prices.price(model.name) is None:
            raise BadInput(
                f"max_cost needs a price for {model.name}, which litellm's price map lacks",
                path=suite.path,
                hint=f"add prices: {{{model.name}: {{input_per_1m: ..., output_per_1m: ...}}}}",
            )


def _open_run(
    suite: Suite, options: RunOptions, root: str | Path, shard: dict[str, int] | None
) -> tuple[RunWriter, set[tuple[str, str, int]]]:
    """A new run, or the run being resumed and the cases it already answered."""
    store = RunStore(root)
    if options.resume is False:
        return store.create(suite, shard=shard), set()
    run = None if options.resume is True else options.resume
    writer = store.reopen(run, suite, shard=shard)
    return writer, finished_cases(writer.folder)


def _shard_record(planner: Planner, options: RunOptions) -> dict[str, int] | None:
    """What ``promptkit merge`` checks: which shard, its rows, the whole run's rows."""
    if options.shard is None:
        return None
    return {**options.shard.to_dict(), "rows": len(planner.rows), "of_rows": planner.unsharded}


def _count_missing(planner: Planner, done: set[tuple[str, str, int]]) -> int:
    if not done:
        return planner.count()
    return sum(
        (variant.id, row.id, repeat) not in done
        for variant in planner.suite.variants()
        for row in planner.rows
        for repeat in range(planner.suite.repeat)
    )


async def _drain(execution: _Execution, cases: Iterator[CasePlan], budget: Budget) -> None:
    """Keep a bounded window of cases in flight, so memory stays flat on big runs.

    The window is a semaphore released by each case as it ends: O(1) per case,
    where waiting on the whole set of pending tasks would cost O(window).
    """
    window = asyncio.Semaphore(execution.width * 2)
    running: set[asyncio.Task[None]] = set()

    def ended(task: asyncio.Task[None]) -> None:
        running.discard(task)
        window.release()

    try:
        for plan in cases:
            await window.acquire()
            if budget.reached:
                break
            task = asyncio.ensure_future(execution.run_case(plan))
            task.add_done_callback(ended)
            running.add(task)
        while running:
            # A failure here (a journal that cannot be written) must stop the run.
            await asyncio.gather(*running)
    finally:
        # Interrupted: cases in flight are abandoned (and not journaled) before the
        # journal closes, so nothing writes to it afterwards.
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)


def _finish(
    suite: Suite, writer: RunWriter, stopped: str | None, windows: dict[str, dict[str, Any]]
) -> RunResult:
    """The run's summary, written beside its journal (which stays, whatever happens here)."""
    metrics = [s.metric for s in suite.scorers]
    figures = record_summary(writer.folder, metrics, stopped, concurrency=windows)
    return RunResult(
        writer.id,
        writer.folder,
        figures.summaries,
        figures.errors,
        figures.cases,
        stopped,
        figures.output_tokens_per_s,
        figures.error_counts,
        figures.concurrency,
    )


def run_suite(
    suite: Suite,
    options: RunOptions | None = None,
    *,
    root: str | Path = DEFAULT_ROOT,
    on_progress: ProgressCallback | None = None,
) -> RunResult:
    """Run every variant of ``suite`` and store the run; see :class:`RunOptions`."""
    return asyncio.run(run_suite_async(suite, options, root=root, on_progress=on_progress))


def _retrieved(row: JournalRow) -> tuple[str, ...] | None:
    """The passages a case's variant retrieved, as journaled; None: it retrieves none."""
    return tuple(row["retrieved_ids"]) if "retrieved_ids" in row else None


def _said_if_cut_off(parsed: Parsed, completion: Completion) -> Parsed:
    """A reply the token limit cut off says so beside what the parser found: a parse
    error then has its cause, and a repaired or partial value a warning."""
    if completion.finish_reason != "length":
        return parsed
    cut = f"the reply was cut off by max_tokens after {completion.completion_tokens} tokens"
    if parsed.error is not None:
        return replace(parsed, error=f"{parsed.error}: {cut} (raise max_tokens)")
    return replace(parsed, note="; ".join(n for n in (parsed.note, cut) if n))
