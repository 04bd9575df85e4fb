"""What a run would get silently wrong, found before any model call.

Two kinds of finding, each a :class:`~promptkit.errors.BadInput` naming the file
and line where the fix goes:

- a request parameter the model's provider does not know (``temprature: 0`` is
  sent as written, or dropped, and the run measures the default temperature);
- a reference label the prompt's parser can never produce (``alta`` when the
  labels are urgente/normal/baixa): such a row scores 0 whatever the model says.

``promptkit check`` lists them as problems; ``promptkit eval`` prints them as
warnings, or refuses to start under ``--strict``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from promptkit.define.datasets import Dataset
from promptkit.define.parsers import fold, make_parser
from promptkit.define.prompts import Prompt
from promptkit.define.validate import Where
from promptkit.errors import BadInput, PromptError, SuiteError
from promptkit.providers.base import known_params
from promptkit.run.ensembles import ensembles_to_run
from promptkit.suite import ModelSpec, Suite

__all__ = [
    "FEATURE_PARAMS",
    "enforce",
    "preflight",
    "refuse_unhonoured",
    "unhonoured_features",
    "unknown_params",
    "unreachable_references",
]

#: Parameters that change what a reply is (JSON by a schema, tool calls): a provider that
#: ignored one would measure another task, so they are refused, not warned about.
FEATURE_PARAMS = ("response_format", "tools", "tool_choice")


def preflight(suite: Suite) -> list[BadInput]:
    """Every finding for ``suite``, in the order a reader fixes them."""
    return [*unknown_params(suite), *unreachable_references(suite), *left_out_ensembles(suite)]


def left_out_ensembles(suite: Suite) -> list[BadInput]:
    """Ensembles whose members this run does not ask (``--prompt``/``--model`` chose others)."""
    _, reasons = ensembles_to_run(suite)
    hint = "run the members too, or leave --prompt/--model out"
    return [BadInput(reason, path=suite.path, hint=hint) for reason in reasons]


def enforce(findings: Sequence[BadInput]) -> None:
    """Raise the first finding (``--strict``); its hint counts the others."""
    if not findings:
        return
    first = findings[0]
    if len(findings) > 1:
        more = f"{len(findings) - 1} more such problem(s): promptkit check lists them"
        first.hint = f"{first.hint}; {more}" if first.hint else more
    raise first


# --- request parameters -------------------------------------------------------------------------


@dataclass
class _Unknown:
    """One parameter, written in one place, that some of the suite's models do not know."""

    where: Where
    models: list[str] = field(default_factory=list)
    known: set[str] = field(default_factory=set)


def unknown_params(suite: Suite) -> list[BadInput]:
    """Parameters a model's provider does not understand, once per place they are written."""
    found: dict[tuple[str | None, str], _Unknown] = {}
    for model in suite.models:
        sources = list(_param_sources(suite, model))
        # Asked only when there is something to check: litellm's list means importing it.
        known = _known_names(model) if sources else None
        if known is None:
            continue
        for name, where in sources:
            if name in known or name in FEATURE_PARAMS:  # refused by unhonoured_features
                continue
            entry = found.setdefault((where.path, where.key), _Unknown(where))
            entry.models.append(model.name)
            entry.known |= known
    return [_unknown_param_error(u) for u in found.values()]


def _known_names(model: ModelSpec) -> frozenset[str] | None:
    known = known_params(model.name)
    if known is None:
        return None
    extra = model.options.get("extra_params") or []
    return known | frozenset(str(name) for name in extra)


def _param_sources(suite: Suite, model: ModelSpec) -> Iterator[tuple[str, Where]]:
    """Each parameter name this model is sent, and where it was written."""
    for prompt in suite.prompts:
        top = Where(prompt.path, "", prompt.meta.lines, PromptError)
        place = top.at("params")
        for name in prompt.meta.params:  # features have front matter keys of their own
            declared = name in FEATURE_PARAMS and name in prompt.meta.lines
            yield name, top.at(name) if declared else place.at(name)
    yield from ((name, suite.where("params").at(name)) for name in suite.params)
    if model.key:
        place = suite.where(model.key).at("params")
        yield from ((name, place.at(name)) for name in model.options.get("params") or {})


def unhonoured_features(suite: Suite) -> list[BadInput]:
    """``response_format``/``tools`` sent to a model whose provider cannot honour them."""
    found: list[BadInput] = []
    for model in suite.models:
        sources = [(n, w) for n, w in _param_sources(suite, model) if n in FEATURE_PARAMS]
        known = _known_names(model) if sources else None
        found += [
            where.fail(
                f"{model.name} cannot honour {name}: its provider would ignore it",
                hint=f"use local/, oai/ or a litellm model that supports {name}, or drop it",
            )
            for name, where in sources
            if known is not None and name not in known
        ]
    return found


def refuse_unhonoured(suite: Suite) -> None:
    """Raise the first :func:`unhonoured_features` finding: such a run measures nothing."""
    enforce(unhonoured_features(suite))


def _unknown_param_error(unknown: _Unknown) -> BadInput:
    name = unknown.where.key.rpartition(".")[2]
    models = ", ".join(unknown.models)
    close = difflib.get_close_matches(name, sorted(unknown.known), n=1, cutoff=0.6)
    guess = f"did you mean {close[0]!r}? " if close else ""
    return unknown.where.fail(
        f"unknown request parameter {name!r} for {models}",
        f"{guess}known: {', '.join(sorted(unknown.known))}; "
        "a server's own parameter goes in the model entry's extra_params: [NAME]",
    )


# --- reference labels ---------------------------------------------------------------------------


@dataclass
class _Unreachable:
    """One reference value in one file that no label of some prompts' parsers matches."""

    dataset: Dataset
    value: str
    lines: list[int | None] = field(default_factory=list)
    prompts: list[str] = field(default_factory=list)
    labels: tuple[str, ...] = ()


def unreachable_references(suite: Suite) -> list[BadInput]:
    """Reference labels (in the dataset and the example pool) no prompt's parser produces."""
    if suite.reference is None:
        return []
    found: dict[tuple[str, str], _Unreachable] = {}
    for prompt in suite.prompts:
        labels = _closed_outputs(prompt)
        if labels is None:
            continue
        allowed = {fold(label).strip() for label in labels}
        for dataset in (d for d in (suite.dataset, suite.pool) if d is not None):
            for value, lines in _values_outside(dataset, suite.reference, allowed):
                entry = found.setdefault(
                    (str(dataset.path), value), _Unreachable(dataset, value, lines)
                )
                entry.prompts.append(prompt.ref)
                entry.labels = labels
    return [_unreachable_error(suite.reference, u) for u in found.values()]


def _closed_outputs(prompt: Prompt) -> tuple[str, ...] | None:
    outputs = make_parser(prompt.meta.parser, path=prompt.path).outputs
    return None if outputs is None else tuple(sorted(outputs))


def _values_outside(
    dataset: Dataset, column: str, allowed: set[str]
) -> Iterator[tuple[str, list[int | None]]]:
    """Each distinct value of ``column`` outside ``allowed``, with the lines it is on.

    A missing (null) reference is a data problem reported where the data is read."""
    outside: dict[str, list[int | None]] = {}
    for row in dataset.rows:
        value = row.data.get(column)
        if value is not None and fold(str(value)).strip() not in allowed:
            outside.setdefault(str(value), []).append(row.line)
    yield from outside.items()


def _unreachable_error(column: str, u: _Unreachable) -> BadInput:
    by_fold = {fold(label): label for label in u.labels}
    close = difflib.get_close_matches(fold(u.value), list(by_fold), n=1)
    guess = f"did you mean {by_fold[close[0]]!r}? " if close else ""
    return SuiteError(
        f"reference {u.value!r} in column {column!r} ({len(u.lines)} row(s)) is not a label "
        f"{', '.join(u.prompts)} can produce, so it always scores 0",
        path=u.dataset.path,
        line=u.lines[0],
        hint=f"{guess}labels: {', '.join(u.labels)}; fix the data, or add it to the "
        "parser's labels or aliases",
    )
