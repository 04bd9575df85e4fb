"""Ensembles at the end of a run: each one's answer per row from its members' answers.

No model is asked: the members' final journal rows are read back, combined by the
ensemble's rule (:mod:`promptkit.define.ensembles`), and the runner scores the
combined answer with the suite's scorers and journals it as a variant of its own,
so compare, the gate, reports and advise see it like any other. Its tokens and
cost are the sum of its members' (it costs what asking all of them cost); its
latency the slowest member's (members may be asked at once).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptkit.define.datasets import Row
from promptkit.define.ensembles import EnsembleSpec, resolve_members
from promptkit.errors import SuiteError
from promptkit.providers import Completion
from promptkit.results.store import JournalRow, read_journal
from promptkit.suite import Suite

__all__ = ["Combined", "combine", "ensemble_cases", "ensembles_to_run"]

#: (row id, repeat) -> member variant id -> its final journal row
Answers = dict[tuple[str, int], dict[str, JournalRow]]


@dataclass(frozen=True)
class Combined:
    value: Any
    raw: str
    parse_error: str | None
    note: str | None


def ensembles_to_run(suite: Suite) -> tuple[list[EnsembleSpec], list[str]]:
    """The suite's ensembles whose members all run here (resolved), and why others
    are left out (``--prompt``/``--model`` chose other variants)."""
    ids = [v.id for v in suite.variants()]
    kept, left_out = [], []
    for spec in suite.ensembles:
        try:
            kept.append(resolve_members(spec, ids, suite.where("ensembles")))
        except SuiteError as exc:
            left_out.append(f"ensemble {spec.name!r} left out: {exc.message}")
    return kept, left_out


def ensemble_cases(
    specs: Sequence[EnsembleSpec], folder: Path, rows: Mapping[str, Row]
) -> Iterator[tuple[EnsembleSpec, str, int, list[JournalRow], Combined, Completion]]:
    """Per ensemble, row and repeat whose members all answered in this run: the
    members' rows, the combined answer, and a completion that carries their usage."""
    answers = _member_rows(folder, {m for spec in specs for m in spec.members})
    for spec in specs:
        for (row_id, repeat), by_variant in answers.items():
            if row_id not in rows or not all(m in by_variant for m in spec.members):
                continue
            members = [by_variant[m] for m in spec.members]
            combined = combine(spec, members)
            yield spec, row_id, repeat, members, combined, _usage(combined, members)


def _member_rows(folder: Path, members: set[str]) -> Answers:
    answers: Answers = {}
    for row in read_journal(folder):
        if row["variant"] in members:  # a later row of a case supersedes
            answers.setdefault((row["row_id"], row["repeat"]), {})[row["variant"]] = row
    return answers


def combine(spec: EnsembleSpec, members: Sequence[JournalRow]) -> Combined:
    """The ensemble's answer from its members' rows (in ``spec.members`` order)."""
    given = [(spec.members[i], m) for i, m in enumerate(members) if _answered(m)]
    silent = len(members) - len(given)
    if spec.rule == "first_valid":
        return _first_valid(given, len(members))
    if spec.rule == "unanimous":
        return _unanimous(given, silent, len(members))
    return _majority(given, silent, len(members))


def _answered(row: JournalRow) -> bool:
    return row.get("error") is None and row.get("parse_error") is None and row["parsed"] is not None


def _key(value: Any) -> str:
    """Equal answers vote together: key order and 1 vs 1.0 do not split a vote."""
    return json.dumps(_plain(value), sort_keys=True, ensure_ascii=False, default=str)


def _plain(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _silent_note(silent: int) -> str:
    return f"; {silent} gave no answer" if silent else ""


def _majority(given: list[tuple[str, JournalRow]], silent: int, size: int) -> Combined:
    if not given:
        return Combined(None, "", f"no member of {size} gave an answer", None)
    votes = Counter(_key(row["parsed"]) for _, row in given)
    ranked = votes.most_common()
    top = ranked[0][1]
    tied = [key for key, count in ranked if count == top]
    if len(tied) > 1:
        shown = " and ".join(tied)
        return Combined(None, "", f"tie between {shown} ({top} vote(s) each)", None)
    winner = next(row for _, row in given if _key(row["parsed"]) == tied[0])
    note = f"{top} of {size} members said {tied[0]}{_silent_note(silent)}"
    return Combined(winner["parsed"], str(winner.get("output") or ""), None, note)


def _unanimous(given: list[tuple[str, JournalRow]], silent: int, size: int) -> Combined:
    if silent:
        missing = size - len(given)
        return Combined(None, "", f"not unanimous: {missing} of {size} gave no answer", None)
    answers = list(dict.fromkeys(_key(row["parsed"]) for _, row in given))
    if len(answers) > 1:
        return Combined(None, "", f"not unanimous: members said {', '.join(answers)}", None)
    first = given[0][1]
    return Combined(first["parsed"], str(first.get("output") or ""), None, f"all {size} agreed")


def _first_valid(given: list[tuple[str, JournalRow]], size: int) -> Combined:
    if not given:
        return Combined(None, "", f"no member of {size} gave an answer", None)
    variant, row = given[0]
    return Combined(row["parsed"], str(row.get("output") or ""), None, f"from {variant}")


def _usage(combined: Combined, members: Sequence[JournalRow]) -> Completion:
    costs = [m.get("cost") for m in members]
    return Completion(
        text=combined.raw,
        prompt_tokens=sum(int(m.get("prompt_tokens") or 0) for m in members),
        completion_tokens=sum(int(m.get("completion_tokens") or 0) for m in members),
        latency_s=max(float(m.get("latency_s") or 0.0) for m in members),
        cost=None if any(c is None for c in costs) else sum(float(c or 0) for c in costs),
        cached=all(bool(m.get("cached")) for m in members),
    )
