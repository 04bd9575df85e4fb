"""Tool-call scorers: did the model propose the calls the row expects?

The expected calls come from a dataset column (default: the suite's ``reference``):
one call ``{name, arguments}``, a list of them, a function name alone, ``[]`` for
"no call", or any of these as JSON text (a CSV cell). Arguments are compared by
``arguments``:

- ``equal``: the call's arguments are exactly the expected ones;
- ``subset``: every expected argument is there with its value (extra ones allowed);
- ``schema``: the arguments are valid against the tool's own ``parameters`` schema
  (the expected arguments are not compared; only the name is).

Several calls are matched regardless of order, each expected call to a different
proposed one. promptkit never executes a tool.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from promptkit.errors import SuiteError
from promptkit.providers.base import ToolCall
from promptkit.scorers.base import Case, Score, ScorerSetup, scorer_factory

ARGUMENT_MODES = ("equal", "subset", "schema")


@dataclass(frozen=True)
class Expected:
    name: str
    arguments: Mapping[str, Any] | None  # None: any arguments (a name alone was given)


@scorer_factory("tool_call")
def tool_call(
    setup: ScorerSetup, *, column: str | None = None, arguments: str = "equal"
) -> Callable[[Case], Score]:
    """1 when the proposed calls are exactly the expected ones (any order), else 0; the
    explanation names the wrong function or argument."""
    check = _Matcher(_mode(arguments, "tool_call"))

    def score(case: Case) -> Score:
        wanted, calls = _expected(case, column, "tool_call"), case_calls(case)
        pairs, problems = check.match(wanted, calls, case.tool_schemas)
        ok = len(pairs) == len(wanted) == len(calls)
        return Score(1.0 if ok else 0.0, explanation=None if ok else _explain(problems, wanted))

    return score


@scorer_factory("tool_calls_f1")
def tool_calls_f1(
    setup: ScorerSetup, *, column: str | None = None, arguments: str = "equal"
) -> Callable[[Case], Score]:
    """F1 of the proposed calls against the expected set (1 when both are empty)."""
    check = _Matcher(_mode(arguments, "tool_calls_f1"))

    def score(case: Case) -> Score:
        wanted, calls = _expected(case, column, "tool_calls_f1"), case_calls(case)
        if not wanted and not calls:
            return Score(1.0)
        pairs, problems = check.match(wanted, calls, case.tool_schemas)
        matched = len(pairs)
        precision = matched / len(calls) if calls else 0.0
        recall = matched / len(wanted) if wanted else 0.0
        f1 = 2 * precision * recall / (precision + recall) if matched else 0.0
        details = {"matched": matched, "proposed": len(calls), "expected": len(wanted)}
        explanation = _explain(problems, wanted) if f1 < 1.0 else None
        return Score(f1, explanation=explanation, details=details)

    return score


def case_calls(case: Case) -> list[ToolCall]:
    return list(case.completion.tool_calls) if case.completion is not None else []


class _Matcher:
    """Pairs expected calls with proposed ones (a maximum matching: each used once)."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self._validators: dict[str, Any] = {}

    def match(
        self,
        wanted: Sequence[Expected],
        calls: Sequence[ToolCall],
        schemas: Mapping[str, Mapping[str, Any]],
    ) -> tuple[dict[int, int], list[str]]:
        """Expected index -> call index, and why each unmatched call (either side) failed."""
        fits = [[self._problem(w, c, schemas) is None for c in calls] for w in wanted]
        owner: dict[int, int] = {}  # call index -> expected index
        for index in range(len(wanted)):
            _augment(index, fits, owner, set())
        pairs = {w: c for c, w in owner.items()}
        problems = [self._why(w, calls, schemas) for i, w in enumerate(wanted) if i not in pairs]
        problems += [
            f"unexpected call {call.name}({call.raw_arguments})"
            for index, call in enumerate(calls)
            if index not in owner
        ]
        return pairs, problems

    def _why(
        self, wanted: Expected, calls: Sequence[ToolCall], schemas: Mapping[str, Mapping[str, Any]]
    ) -> str:
        same_name = [c for c in calls if c.name == wanted.name]
        if not same_name:
            made = ", ".join(c.name for c in calls) or "no call"
            return f"expected a call to {wanted.name}, got {made}"
        return self._problem(wanted, same_name[0], schemas) or f"{wanted.name}: matched twice"

    def _problem(
        self, wanted: Expected, call: ToolCall, schemas: Mapping[str, Mapping[str, Any]]
    ) -> str | None:
        if call.name != wanted.name:
            return f"called {call.name}, expected {wanted.name}"
        if not isinstance(call.arguments, dict):
            return f"{call.name}: arguments are not a JSON object: {call.raw_arguments[:80]!r}"
        if self.mode == "schema":
            return self._schema_problem(call, schemas)
        if wanted.arguments is None:
            return None
        return _argument_problem(call.name, wanted.arguments, call.arguments, self.mode)

    def _schema_problem(
        self, call: ToolCall, schemas: Mapping[str, Mapping[str, Any]]
    ) -> str | None:
        import jsonschema

        schema = schemas.get(call.name)
        if schema is None:
            return f"{call.name}: the prompt declares no such tool"
        # keyed by the schema itself: two prompt versions may declare one tool differently
        key = json.dumps(schema, sort_keys=True, default=str)
        validator = self._validators.get(key)
        if validator is None:
            validator = jsonschema.validators.validator_for(schema)(dict(schema))
            self._validators[key] = validator
        failure = jsonschema.exceptions.best_match(validator.iter_errors(call.arguments))
        return None if failure is None else f"{call.name}{failure.json_path[1:]}: {failure.message}"


def _augment(index: int, fits: list[list[bool]], owner: dict[int, int], seen: set[int]) -> bool:
    """Kuhn's augmenting path: give expected call ``index`` a proposed call."""
    for call, fit in enumerate(fits[index]):
        if fit and call not in seen:
            seen.add(call)
            if call not in owner or _augment(owner[call], fits, owner, seen):
                owner[call] = index
                return True
    return False


def _argument_problem(
    name: str, wanted: Mapping[str, Any], given: Mapping[str, Any], mode: str
) -> str | None:
    for key, value in wanted.items():
        if key not in given:
            return f"{name}: missing argument {key}"
        if not same_json(given[key], value):
            return f"{name}.{key}: {given[key]!r} != {value!r}"
    extra = sorted(set(given) - set(wanted))
    if mode == "equal" and extra:
        return f"{name}: unexpected argument {extra[0]}={given[extra[0]]!r}"
    return None


def same_json(a: Any, b: Any) -> bool:
    """JSON equality: 1 == 1.0, but true is not 1 and "1" is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _expected(case: Case, column: str | None, scorer: str) -> list[Expected]:
    value = case.row.get(column) if column is not None else case.expected
    if column is not None and column not in case.row:
        raise ValueError(f"{scorer}: the row has no column {column!r}")
    return expected_calls(value)


def expected_calls(value: Any) -> list[Expected]:
    """The calls a dataset cell expects; ValueError naming what is wrong with it."""
    if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
        try:
            value = json.loads(value)
        except ValueError:
            raise ValueError(f"expected calls are not valid JSON: {value[:60]!r}") from None
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [_one_expected(item) for item in items]


def _one_expected(item: Any) -> Expected:
    if isinstance(item, str) and item.strip():
        return Expected(item.strip(), None)
    if isinstance(item, Mapping) and isinstance(item.get("function"), Mapping):
        item = item["function"]  # the OpenAI form {type: function, function: {...}}
    if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
        raise ValueError(f"an expected call needs a name: {str(item)[:60]!r}")
    arguments = item.get("arguments")
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            raise ValueError(f"{item['name']}: expected arguments are not JSON") from None
    if arguments is not None and not isinstance(arguments, Mapping):
        raise ValueError(f"{item['name']}: expected arguments must be an object")
    return Expected(item["name"], arguments)


def _explain(problems: list[str], wanted: Sequence[Expected]) -> str:
    if not problems:
        return "expected no call" if not wanted else "the calls do not match"
    return "; ".join(problems)[:300]


def _mode(value: Any, scorer: str) -> str:
    if value not in ARGUMENT_MODES:
        raise SuiteError(
            f"{scorer}: arguments must be one of {', '.join(ARGUMENT_MODES)}, not {value!r}",
            hint=f"e.g. {scorer}: {{arguments: subset}}",
        )
    return str(value)
