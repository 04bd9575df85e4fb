"""JSON scorers: validity, and conformance to a JSON Schema (the ``jsonschema`` library,
which implements every draft and reports where an instance fails)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from promptkit.define.files import is_file, load_json, read_text
from promptkit.define.parsers import JsonParser
from promptkit.errors import SuiteError
from promptkit.scorers.base import Case, Score, ScorerSetup, scorer, scorer_factory

_NOT_FOUND = object()


def read_json(case: Case, *, strict: bool) -> tuple[Any, str | None]:
    """The JSON value of the reply and an error, if none could be read.

    A value the prompt's JSON parser already read is used as it is. ``strict``: the
    whole reply must be one JSON document; otherwise fenced or embedded JSON counts.
    """
    if isinstance(case.output, dict | list):
        return case.output, None
    if strict:
        try:
            return json.loads(case.raw), None
        except json.JSONDecodeError as exc:
            return _NOT_FOUND, f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    parsed = JsonParser(None).parse(case.raw)
    return (_NOT_FOUND, parsed.error) if parsed.error else (parsed.value, None)


@scorer("json_valid")
def json_valid(case: Case, *, strict: bool = False) -> Score:
    """The reply is (strict) or contains (fenced or embedded) a JSON object or array."""
    value, error = read_json(case, strict=strict)
    return Score(0.0, explanation=error) if value is _NOT_FOUND else Score(1.0)


def _load_schema(setup: ScorerSetup, schema: Mapping[str, Any] | str) -> dict[str, Any]:
    if isinstance(schema, Mapping):
        return dict(schema)
    path = setup.resolve(schema)
    if not is_file(path):
        raise SuiteError(
            f"json_schema: cannot read schema file {path}: no such file",
            hint="give a path relative to the suite file, or the schema inline",
        )
    text = read_text(path, error=SuiteError)
    loaded = load_json(text, path=path, error=SuiteError, label="json_schema: not JSON")
    if not isinstance(loaded, dict):
        raise SuiteError(f"json_schema: {path} is not a JSON object", hint="fix the schema")
    return loaded


@scorer_factory("json_schema")
def json_schema(
    setup: ScorerSetup, *, schema: Mapping[str, Any] | str | None = None, strict: bool = False
) -> Callable[[Case], Score]:
    """The reply's JSON conforms to ``schema`` (inline mapping, or a file beside the suite);
    without one, to the schema of the prompt's ``response_format``."""
    import jsonschema

    fixed = _validator(_load_schema(setup, schema)) if schema is not None else None
    by_prompt: dict[str, Any] = {}  # the prompts' schemas, each checked once

    def score(case: Case) -> Score:
        validator = fixed
        if validator is None and case.response_schema is not None:
            key = json.dumps(case.response_schema, sort_keys=True)
            validator = by_prompt.get(key) or by_prompt.setdefault(
                key, _validator(case.response_schema)
            )
        if validator is None:
            return Score(
                0.0, explanation="no schema: give json_schema one, or the prompt a response_format"
            )
        value, error = read_json(case, strict=strict)
        if value is _NOT_FOUND:
            return Score(0.0, explanation=error)
        failure = jsonschema.exceptions.best_match(validator.iter_errors(value))
        if failure is None:
            return Score(1.0)
        where = failure.json_path
        return Score(0.0, explanation=f"{where}: {failure.message}"[:300])

    return score


def _validator(schema: Mapping[str, Any]) -> Any:
    import jsonschema

    document = dict(schema)
    validator_class = jsonschema.validators.validator_for(document)
    try:
        validator_class.check_schema(document)
    except jsonschema.SchemaError as exc:
        raise SuiteError(
            f"json_schema: invalid schema: {exc.message}", hint="fix the schema"
        ) from None
    return validator_class(document)


@scorer_factory("json_fields")
def json_fields(
    setup: ScorerSetup, *, fields: Sequence[str] | Mapping[str, str]
) -> Callable[[Case], Score]:
    """Share of ``fields`` of the reply's JSON object equal to the row's columns (a list:
    each field against the column of its name; a mapping: field -> column); the
    explanation names each wrong or missing field."""
    wanted = dict(fields) if isinstance(fields, Mapping) else {f: f for f in fields}
    if not wanted or not all(isinstance(k, str) and isinstance(v, str) for k, v in wanted.items()):
        raise SuiteError(
            "json_fields: fields must be a list of names or a {field: column} mapping",
            hint="e.g. json_fields: {fields: [order_id, date]}",
        )

    def score(case: Case) -> Score:
        value, error = read_json(case, strict=False)
        if not isinstance(value, dict):
            return Score(0.0, explanation=error or "the reply's JSON is not an object")
        wrong = [
            f"{field}: {value.get(field, '(missing)')!r} != {case.row.get(column)!r}"
            for field, column in wanted.items()
            if str(value.get(field, "\0")).strip() != str(case.row.get(column, "")).strip()
        ]
        share = 1.0 - len(wrong) / len(wanted)
        return Score(share, explanation="; ".join(wrong)[:300] if wrong else None)

    return score
