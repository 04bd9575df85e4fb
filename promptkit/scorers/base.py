"""The scorer registry and the objects a scorer sees and returns.

Two ways to register, one registry:

- ``@scorer("name")`` on ``fn(case, **args)``: called once per case.
- ``@scorer_factory("name")`` on ``factory(setup, **args) -> fn(case)``: called once
  when the suite loads, so heavy imports, model loading and argument checks happen
  there (a missing optional extra is a one-line error before any model is called).

A name nobody has registered yet is looked up among the ``promptkit.scorers`` entry
points, where the built-in families are declared too (see :mod:`promptkit.plugins`).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptkit.errors import SuiteError
from promptkit.plugins import PluginGroup
from promptkit.providers.base import Completion, Request

if TYPE_CHECKING:
    from promptkit.define.datasets import Dataset
    from promptkit.define.prompts import PromptLibrary

__all__ = [
    "BoundScorer",
    "Case",
    "Score",
    "ScorerSetup",
    "make_scorer",
    "registered_scorers",
    "scorer",
    "scorer_factory",
]


@dataclass(frozen=True)
class Score:
    """``value`` in [0, 1]; ``label`` and ``explanation`` are optional detail."""

    value: float
    label: str | None = None
    explanation: str | None = None
    #: Structured detail kept in the journal (``score_details``), e.g. a judge's samples.
    details: Mapping[str, Any] | None = None
    #: Nothing to judge on this row (e.g. it has no gold passage ids): the row is left
    #: out of this metric's mean, and ``explanation`` says why.
    skipped: bool = False


@dataclass(frozen=True)
class Case:
    """One model answer, as a scorer sees it."""

    output: Any  # what the prompt's parser read; None when it could not read anything
    raw: str  # the model's reply, unparsed
    expected: Any  # the reference column's value, if the suite has one
    row: Mapping[str, Any]
    completion: Completion | None = None
    parse_error: str | None = None
    #: What the parser noted: a repair, a choice among several values, a cut-off reply.
    parse_note: str | None = None
    #: The JSON Schema the prompt's ``response_format`` asked for, if any.
    response_schema: Mapping[str, Any] | None = None
    #: The parameter schema of each tool the prompt declared, by function name.
    tool_schemas: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: Sends a model request through the run's machinery (concurrency, timeout and,
    #: where the runner has them, cache and retries) and counts its tokens and cost
    #: on this case's row. An LLM judge calls models through it.
    call: Callable[[Request], Awaitable[Completion]] | None = None
    #: The template variables this case was rendered with (input name -> value).
    inputs: Mapping[str, Any] = field(default_factory=dict)
    #: The ids of the passages retrieved for this case, best first; None when the case
    #: retrieved nothing because its variant has no retrieval (promptkit.define.retrieval).
    retrieved_ids: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ScorerSetup:
    """What a scorer factory may need from the suite that names it."""

    suite_path: Path | None = None
    prompts: PromptLibrary | None = None
    #: The ids of the suite's retrieval collection; None when the suite retrieves nothing.
    document_ids: frozenset[str] | None = None

    def resolve(self, relative: str | Path) -> Path:
        """A path written in the suite, relative to the suite's folder."""
        base = self.suite_path.parent if self.suite_path else Path.cwd()
        return base / relative


ScorerResult = Score | float | bool
ScorerFn = Callable[..., ScorerResult | Awaitable[ScorerResult]]
CaseScorer = Callable[[Case], ScorerResult | Awaitable[ScorerResult]]
ScorerFactory = Callable[..., CaseScorer]


@dataclass(frozen=True)
class _Entry:
    fn: Callable[..., Any]
    factory: bool


_SCORERS: dict[str, _Entry] = {}
_PLUGINS = PluginGroup(
    group="promptkit.scorers",
    kind="scorer",
    registry=_SCORERS,
    error=SuiteError,
    register_with="@scorer or @scorer_factory",
)


def scorer(name: str | None = None) -> Callable[[ScorerFn], ScorerFn]:
    """Register ``fn(case, **args)`` under ``name`` (default: the function's name)."""

    def decorate(fn: ScorerFn) -> ScorerFn:
        _SCORERS[name or fn.__name__] = _Entry(fn, factory=False)
        return fn

    return decorate


def scorer_factory(name: str | None = None) -> Callable[[ScorerFactory], ScorerFactory]:
    """Register ``factory(setup, **args) -> fn(case)``, built once per suite scorer entry."""

    def decorate(factory: ScorerFactory) -> ScorerFactory:
        _SCORERS[name or factory.__name__] = _Entry(factory, factory=True)
        return factory

    return decorate


def registered_scorers() -> list[str]:
    """Every scorer name a suite can use, registered or declared by an entry point."""
    return _PLUGINS.names(_SCORERS)


@dataclass(frozen=True)
class BoundScorer:
    """A registered scorer with the arguments a suite gave it."""

    metric: str
    name: str
    fn: CaseScorer
    args: Mapping[str, Any]

    def check_rows(self, dataset: Dataset) -> None:
        """Let a scorer that reads dataset columns refuse a bad row when the suite loads.

        A factory's callable opts in by defining ``check_rows(dataset)`` (``llm_judge``
        with ``human:`` does), so the error comes before any model is called."""
        check = getattr(self.fn, "check_rows", None)
        if check is not None:
            check(dataset)

    async def __call__(self, case: Case) -> Score:
        result = self.fn(case)
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


def make_scorer(
    spec: str | Mapping[str, Any],
    *,
    path: str | Path | None = None,
    setup: ScorerSetup | None = None,
) -> BoundScorer:
    """``"exact_match"`` or ``{"contains": {"values": [...]}}`` -> a bound scorer.

    The reserved argument ``metric`` names the reported column, so one scorer can
    appear twice with different arguments. ``setup`` reaches scorer factories.
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
    entry = _lookup(name, path)
    if entry is None:
        raise SuiteError(
            f"unknown scorer {name!r}",
            path=path,
            hint=f"use one of: {', '.join(registered_scorers())}, or register your own",
        )
    metric = str(args.pop("metric", name))
    _check_args(name, entry.fn, args, path)
    if entry.factory:
        fn = _build(name, entry.fn, setup or ScorerSetup(), args, path)
    else:
        fn = functools.partial(entry.fn, **args)
    return BoundScorer(metric=metric, name=name, fn=fn, args=args)


def _lookup(name: str, path: str | Path | None) -> _Entry | None:
    try:
        _PLUGINS.ensure(name)
    except SuiteError as exc:
        exc.path = exc.path or (str(path) if path is not None else None)
        raise
    return _SCORERS.get(name)


def _build(
    name: str,
    factory: ScorerFactory,
    setup: ScorerSetup,
    args: Mapping[str, Any],
    path: str | Path | None,
) -> CaseScorer:
    """Run a factory; a bad argument value becomes a SuiteError naming the scorer."""
    try:
        return factory(setup, **args)
    except SuiteError as exc:
        if exc.path is None:
            exc.path = str(path) if path is not None else None
        raise
    except (TypeError, ValueError) as exc:
        raise SuiteError(
            f"scorer {name!r}: {exc}", path=path, hint="fix its arguments in the suite"
        ) from None


def _check_args(
    name: str, fn: Callable[..., Any], args: Mapping[str, Any], path: str | Path | None
) -> None:
    params = inspect.signature(fn).parameters
    accepted = [p for p in list(params)[1:]]
    for key in args:
        if key not in params or key == next(iter(params)):
            raise SuiteError(
                f"scorer {name!r} has no argument {key!r}",
                path=path,
                hint=f"its arguments: {', '.join(accepted) or 'none'}",
            )
    for key in accepted:
        param = params[key]
        required = param.default is inspect.Parameter.empty and param.kind in (
            inspect.Parameter.KEYWORD_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        )
        if required and key not in args:
            raise SuiteError(
                f"scorer {name!r} needs the argument {key!r}",
                path=path,
                hint=f"write '- {name}: {{{key}: ...}}'",
            )
