"""promptfoo assertions -> promptkit scorer entries.

A promptfoo test carries its own assertions, with a value per test (``contains:
Paris`` here, ``contains: Rome`` there). promptkit scorers are named once per suite,
so each assertion becomes a *slot*: the scorer entry is the same for every test of a
suite and the per-test value goes into a dataset column the scorer reads
(``column: assert_2``). Tests whose assertions differ in kind get suites of their own
(see :mod:`promptkit.importers.promptfoo`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["SUPPORTED", "Converted", "Unconverted", "convert_assertion"]

#: promptfoo's default pass mark for ``similar``, and its default edit budget.
_SIMILAR_THRESHOLD = 0.75
_LEVENSHTEIN_MAX = 5


@dataclass(frozen=True)
class Converted:
    """One scorer entry; ``value`` (when not None) goes into the slot's dataset column."""

    scorer: str
    args: Mapping[str, Any]
    value: Any = None
    #: The scorer reads its value as the suite's reference (semantic_similarity).
    as_reference: bool = False
    metric: str | None = None

    def key(self) -> str:
        """Same key, same scorer entry: the values may differ, nothing else."""
        return json.dumps([self.scorer, self.args, self.as_reference, self.metric], sort_keys=True)


class Unconverted(Exception):
    """An assertion with no promptkit counterpart; the message says what and why."""


Converter = Callable[[Any, Mapping[str, Any]], Converted]


def _text(value: Any, kind: str) -> str:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)
    raise Unconverted(f"{kind}: value must be text, got {type(value).__name__}")


def _texts(value: Any, kind: str) -> list[str]:
    if isinstance(value, list) and value:
        return [_text(v, kind) for v in value]
    if isinstance(value, str):  # promptfoo accepts comma-separated text too
        return [part.strip() for part in value.split(",") if part.strip()]
    raise Unconverted(f"{kind}: value must be a list of texts")


def _equals(value: Any, spec: Mapping[str, Any]) -> Converted:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise Unconverted("equals: only text values convert (object equality does not)")
    return Converted("exact_match", {"normalize": False, "raw": True}, str(value))


def _contains(compare: str, mode: str | None) -> Converter:
    def convert(value: Any, spec: Mapping[str, Any]) -> Converted:
        kind = str(spec.get("type"))
        wanted: Any = _text(value, kind) if mode is None else _texts(value, kind)
        args = {"compare": compare, "mode": mode or "any"}
        return Converted("contains", args, wanted)

    return convert


def _regex(value: Any, spec: Mapping[str, Any]) -> Converted:
    pattern = _text(value, "regex")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise Unconverted(f"regex: {pattern!r} is not a Python pattern: {exc}") from None
    return Converted("regex", {"ignore_case": False}, pattern)


def _starts_with(value: Any, spec: Mapping[str, Any]) -> Converted:
    return Converted("starts_with", {}, _text(value, "starts-with"))


def _levenshtein(value: Any, spec: Mapping[str, Any]) -> Converted:
    limit = _number(spec.get("threshold", _LEVENSHTEIN_MAX), "levenshtein")
    return Converted("levenshtein", {"max": int(limit)}, _text(value, "levenshtein"))


def _similar(value: Any, spec: Mapping[str, Any]) -> Converted:
    threshold = _number(spec.get("threshold", _SIMILAR_THRESHOLD), "similar")
    args = {"threshold": threshold}
    return Converted("semantic_similarity", args, _text(value, "similar"), as_reference=True)


def _is_json(value: Any, spec: Mapping[str, Any]) -> Converted:
    if value is None:
        return Converted("json_valid", {"strict": True})
    if isinstance(value, dict):
        return Converted("json_schema", {"schema": value, "strict": True})
    raise Unconverted("is-json: the schema must be written inline (a file:// schema is not read)")


def _contains_json(value: Any, spec: Mapping[str, Any]) -> Converted:
    if value is None:
        return Converted("json_valid", {"strict": False})
    if isinstance(value, dict):
        return Converted("json_schema", {"schema": value, "strict": False})
    raise Unconverted("contains-json: the schema must be written inline")


def _number(value: Any, kind: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise Unconverted(f"{kind}: threshold must be a number")


def _latency(value: Any, spec: Mapping[str, Any]) -> Converted:
    return Converted("latency", {"max_ms": _number(spec.get("threshold"), "latency")})


def _cost(value: Any, spec: Mapping[str, Any]) -> Converted:
    return Converted("cost", {"max": _number(spec.get("threshold"), "cost")})


#: promptfoo assertion type -> converter. ``llm-rubric`` is handled by the caller,
#: which knows the judge model.
SUPPORTED: dict[str, Converter] = {
    "equals": _equals,
    "contains": _contains("exact", None),
    "icontains": _contains("ignore_case", None),
    "contains-any": _contains("exact", "any"),
    "contains-all": _contains("exact", "all"),
    "icontains-any": _contains("ignore_case", "any"),
    "icontains-all": _contains("ignore_case", "all"),
    "regex": _regex,
    "starts-with": _starts_with,
    "levenshtein": _levenshtein,
    "similar": _similar,
    "is-json": _is_json,
    "contains-json": _contains_json,
    "latency": _latency,
    "cost": _cost,
}

_KNOWN_KEYS = {"type", "value", "threshold", "metric", "provider", "weight"}


def convert_assertion(spec: Any, judge: str | None) -> Converted:
    """One promptfoo assertion mapping -> a scorer entry, or :class:`Unconverted`."""
    if not isinstance(spec, Mapping) or not isinstance(spec.get("type"), str):
        raise Unconverted("an assertion must be a mapping with a 'type'")
    kind = spec["type"]
    extra = sorted(set(spec) - _KNOWN_KEYS)
    if extra:
        raise Unconverted(f"{kind}: keys {', '.join(extra)} have no promptkit counterpart")
    if spec.get("weight", 1) != 1:
        raise Unconverted(f"{kind}: weight has no counterpart (promptkit reports each metric)")
    if kind.startswith("not-"):
        raise Unconverted(f"{kind}: negated assertions have no promptkit scorer")
    converted = (
        _rubric(spec, judge) if kind == "llm-rubric" else _lookup(kind)(spec.get("value"), spec)
    )
    metric = spec.get("metric")
    if metric is not None:
        return Converted(**{**converted.__dict__, "metric": _text(metric, "metric")})
    return converted


def _lookup(kind: str) -> Converter:
    if kind not in SUPPORTED:
        raise Unconverted(f"assertion type {kind!r} has no promptkit scorer")
    return SUPPORTED[kind]


def _rubric(spec: Mapping[str, Any], judge: str | None) -> Converted:
    if judge is None:
        raise Unconverted("llm-rubric: no converted provider to act as the judge model")
    model = spec.get("provider", judge)
    if not isinstance(model, str) or model != judge:
        raise Unconverted("llm-rubric: a per-assertion provider is not converted")
    # The rubric is an argument of the scorer, not a column: tests whose rubrics
    # differ get separate scorer entries (and so separate suites).
    rubric = _text(spec.get("value"), "llm-rubric")
    return Converted("llm_judge", {"model": judge, "rubric": rubric})
