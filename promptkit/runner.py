"""Runs a suite: each planned case goes to its provider, is parsed, scored and journaled.

Requests run concurrently, bounded per model. A case that fails becomes an
error row; it never stops the run. Nothing here prints: progress is reported
through a callback so the CLI (or a notebook) decides how to show it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptkit.errors import ProviderError
from promptkit.parsers import Parser, make_parser
from promptkit.plan import CasePlan, Planner
from promptkit.providers import Completion, Provider, Request, get_provider
from promptkit.scorers import Case
from promptkit.store import DEFAULT_ROOT, RunStore, RunWriter, load_run
from promptkit.suite import Suite
from promptkit.summary import VariantSummary, summarize

__all__ = ["Progress", "RunResult", "run_suite", "run_suite_async"]


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

    @property
    def rate(self) -> float:
        elapsed = time.perf_counter() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0


@dataclass(frozen=True)
class RunResult:
    run_id: str
    path: Path
    summaries: list[VariantSummary]
    errors: int
    cases: int


ProgressCallback = Callable[[Progress], None]


class _Execution:
    """State of one run: providers, parsers, concurrency limits and the journal."""

    def __init__(
        self,
        suite: Suite,
        writer: RunWriter,
        *,
        concurrency: int | None,
        on_progress: ProgressCallback | None,
        total: int,
    ) -> None:
        self.suite, self.writer = suite, writer
        self.providers: dict[str, Provider] = {}
        self.limits: dict[str, asyncio.Semaphore] = {}
        self.width = 0  # requests allowed in flight, all models together
        self.parsers: dict[str, Parser] = {}
        for model in suite.models:
            provider = get_provider(model.name, model.options)
            self.providers[model.name] = provider
            width = concurrency or suite.concurrency or provider.default_concurrency
            self.limits[model.name] = asyncio.Semaphore(width)
            self.width += width
        for prompt in suite.prompts:
            self.parsers[prompt.ref] = make_parser(prompt.meta.parser, path=prompt.path)
        self.progress = Progress(total=total)
        self.on_progress = on_progress

    def _provider(self, model: str) -> Provider:
        """The provider for ``model``; scorers may call models the suite does not list."""
        if model not in self.providers:
            provider = get_provider(model, {})
            self.providers[model] = provider
            self.limits[model] = asyncio.Semaphore(provider.default_concurrency)
        return self.providers[model]

    async def call(self, request: Request) -> Completion:
        provider = self._provider(request.model)
        async with self.limits[request.model]:
            try:
                return await asyncio.wait_for(
                    provider.complete(request), timeout=self.suite.timeout
                )
            except asyncio.TimeoutError:
                raise ProviderError(
                    f"timed out after {self.suite.timeout:g}s", retryable=True
                ) from None

    async def run_case(self, plan: CasePlan) -> None:
        row = self._base_row(plan)
        try:
            completion = await self.call(plan.request)
        except ProviderError as exc:
            row["error"] = str(exc)
        except Exception as exc:  # a provider bug must not end the whole run
            row["error"] = f"{type(exc).__name__}: {exc}"
        else:
            row.update(await self._score(plan, completion))
        self.writer.append(row)
        self._count(row)

    def _base_row(self, plan: CasePlan) -> dict[str, Any]:
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

    async def _score(self, plan: CasePlan, completion: Completion) -> dict[str, Any]:
        parsed = self.parsers[plan.variant.prompt.ref].parse(completion.text)
        expected = plan.row.data.get(self.suite.reference) if self.suite.reference else None
        usage = {"scorer_tokens": 0, "scorer_cost": 0.0}

        async def call(request: Request) -> Completion:
            answer = await self.call(request)
            usage["scorer_tokens"] += answer.prompt_tokens + answer.completion_tokens
            usage["scorer_cost"] += answer.cost or 0.0
            return answer

        case = Case(
            output=parsed.value,
            raw=completion.text,
            expected=expected,
            row=plan.row.data,
            completion=completion,
            parse_error=parsed.error,
            call=call,
        )
        scores: dict[str, float] = {}
        labels: dict[str, str] = {}
        error = None
        for bound in self.suite.scorers:
            try:
                score = await bound(case)
            except Exception as exc:  # one broken scorer is reported, not fatal
                error = f"scorer {bound.metric!r} failed: {type(exc).__name__}: {exc}"
                continue
            scores[bound.metric] = score.value
            if score.label is not None:
                labels[bound.metric] = score.label
        return {
            "output": completion.text,
            "parsed": parsed.value,
            "parse_error": parsed.error,
            "scores": scores,
            "score_labels": labels,
            "error": error,
            "prompt_tokens": completion.prompt_tokens,
            "completion_tokens": completion.completion_tokens,
            "latency_s": round(completion.latency_s, 6),
            "cost": completion.cost,
            "cached": completion.cached,
            "finish_reason": completion.finish_reason,
            "label_probs": completion.label_probs,
            **usage,
        }

    def _count(self, row: dict[str, Any]) -> None:
        progress = self.progress
        progress.done += 1
        progress.errors += row["error"] is not None
        progress.cache_hits += bool(row.get("cached"))
        progress.tokens += int(row.get("prompt_tokens") or 0) + int(
            row.get("completion_tokens") or 0
        )
        progress.cost += float(row.get("cost") or 0.0)
        if self.on_progress:
            self.on_progress(progress)

    async def close(self) -> None:
        for provider in self.providers.values():
            await provider.aclose()


async def run_suite_async(
    suite: Suite,
    *,
    limit: int | None = None,
    concurrency: int | None = None,
    root: str | Path = DEFAULT_ROOT,
    on_progress: ProgressCallback | None = None,
) -> RunResult:
    planner = Planner(suite, limit=limit)
    planner.check_renders()  # template errors stop the run before any model is called
    writer = RunStore(root).create(suite)
    execution = _Execution(
        suite, writer, concurrency=concurrency, on_progress=on_progress, total=planner.count()
    )
    try:
        await _drain(execution, planner)
    finally:
        await execution.close()
        writer.close()
    return _finish(suite, writer, root)


async def _drain(execution: _Execution, planner: Planner) -> None:
    """Keep a bounded number of cases in flight, so memory stays flat on big runs."""
    width = execution.width * 2
    pending: set[asyncio.Task[None]] = set()
    for plan in planner.cases():
        pending.add(asyncio.ensure_future(execution.run_case(plan)))
        if len(pending) >= width:
            _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
    if pending:
        await asyncio.gather(*pending)


def _finish(suite: Suite, writer: RunWriter, root: str | Path) -> RunResult:
    frame = load_run(writer.folder, root=root)
    summaries = summarize(frame, [s.metric for s in suite.scorers])
    errors = sum(s.errors for s in summaries)
    writer.write_json(
        "summary.json",
        {
            "run_id": writer.id,
            "cases": len(frame),
            "errors": errors,
            "variants": [s.to_dict() for s in summaries],
        },
    )
    return RunResult(writer.id, writer.folder, summaries, errors, len(frame))


def run_suite(
    suite: Suite,
    *,
    limit: int | None = None,
    concurrency: int | None = None,
    root: str | Path = DEFAULT_ROOT,
    on_progress: ProgressCallback | None = None,
) -> RunResult:
    """Run every variant of ``suite`` and store the run; see :func:`run_suite_async`."""
    return asyncio.run(
        run_suite_async(
            suite, limit=limit, concurrency=concurrency, root=root, on_progress=on_progress
        )
    )
