"""Numeric closeness: the first number in the answer against the reference."""

from __future__ import annotations

import re
from typing import Any

from promptkit.scorers.base import Case, Score, scorer

_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?")


def first_number(value: Any) -> float | None:
    match = _NUMBER.search("" if value is None else str(value))
    return float(match.group().replace(",", ".")) if match else None


@scorer("numeric")
def numeric(case: Case, *, tolerance: float = 0.0, relative: bool = False) -> Score:
    """The first number in the output is within ``tolerance`` of the reference."""
    got, want = (
        first_number(case.output if case.output is not None else case.raw),
        first_number(case.expected),
    )
    if got is None or want is None:
        return Score(0.0, explanation="no number to compare")
    allowed = tolerance * abs(want) if relative else tolerance
    return Score(float(abs(got - want) <= allowed), explanation=f"{got:g} vs {want:g}")
