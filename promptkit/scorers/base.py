"""The scorer registry and the objects a scorer sees and returns."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from promptkit.errors import SuiteError
from promptkit.providers.base import Completion, Request

__all__ = ["BoundScorer", "Case", "Score", "make_scorer", "registered_scorers", "scorer"]


@dataclass(frozen=True)
class Score:
    """``value`` in [0, 1]; ``label`` and ``explanation`` are optional detail."""

    value: float
    label: str | None = None
    explanation: str | None = None


@dataclass(frozen=True)
class Case:
    """One model answer, as a scorer sees it."""

    output: Any  # what the prompt's parser read; None when it could not read anything
    raw: str  # the model's reply, unparsed
    expected: Any  # the reference column's value, if the suite has one
    row: Mapping[str, Any]
    completion: Completion | None = None
    parse_error: str | None = None
    #: Sends a model request through the run's machinery (concurrency, timeout and,
    #: where the runner has them, cache and retries) and counts its tokens and cost
    #: on this case's row. An LLM judge calls models through it.
    call: Callable[[Request], Awaitable[Completion]] | None = None


ScorerResult = Score | float | bool
ScorerFn = Callable[..., ScorerResult | Awaitable[ScorerResult]]
_SCORERS: dict[str, ScorerFn] = {}


def scorer(name: str | None = None) -> Callable[[ScorerFn], ScorerFn]:
    """Register ``fn(case, **args)`` under ``name`` (default: the function's name)."""

    def decorate(fn: ScorerFn) -> ScorerFn:
        _SCORERS[name or fn.__name__] = fn
        return fn

    return decorate


def registered_scorers() -> list[str]:
    return sorted(_SCORERS)


@dataclass(frozen=True)
class BoundScorer:
    """A registered scorer with the arguments a suite gave it."""

    metric: str
    name: str
    fn: ScorerFn
    args: Mapping[str, Any]

    async def __call__(self, case: Case) -> Score:
        result = self.fn(case, **self.args)
        if inspect.isawaitable(result):
            result = await result
        return _as_score(result)


def _as_score(result: Any) -> Score:
    if isinstance(result, bool | int | float):
        result = Score(float(result))
    if not isinstance(result, Score):
        raise TypeError(f"a scorer returned {type(result).__name__}, not a Score or number")
    if not 0.0 <= result.value <= 1.0:
        raise ValueError(f"a scorer returned {result.value}, outside [0, 1]")
    return result


def make_scorer(spec: str | Mapping[str, Any], *, path: str | None = None) -> BoundScorer:
    """``"exact_match"`` or ``{"contains": {"values": [...]}}`` -> a bound scorer.

    The reserved argument ``metric`` names the reported column, so one scorer can
    appear twice with different arguments.
    """
    if isinstance(spec, str):
        name, args = spec, {}
    elif isinstance(spec, Mapping) and len(spec) == 1:
        name, raw = next(iter(spec.items()))
        if not isinstance(raw, Mapping | None):
            raise SuiteError(
                f"arguments of scorer {name!r} must be a mapping",
                path=path,
                hint=f"write '- {name}: {{arg: value}}'",
            )
        args = dict(raw or {})
    else:
        raise SuiteError(
            f"bad scorer entry {spec!r}", path=path, hint="write a name or {name: {args}}"
        )
    fn = _SCORERS.get(name)
    if fn is None:
        raise SuiteError(
            f"unknown scorer {name!r}",
            path=path,
            hint=f"use one of: {', '.join(registered_scorers())}, or register your own",
        )
    metric = str(args.pop("metric", name))
    _check_args(name, fn, args, path)
    return BoundScorer(metric=metric, name=name, fn=fn, args=args)


def _check_args(name: str, fn: ScorerFn, args: Mapping[str, Any], path: str | None) -> None:
    params = inspect.signature(fn).parameters
    accepted = [p for p in list(params)[1:]]
    for key in args:
        if key not in params or key == next(iter(params)):
            raise SuiteError(
                f"scorer {name!r} has no argument {key!r}",
                path=path,
                hint=f"its arguments: {', '.join(accepted) or 'none'}",
            )
