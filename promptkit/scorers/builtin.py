"""Built-in scorers. Each takes a :class:`Case` and keyword arguments from the suite."""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from typing import Any

from promptkit.parsers import fold
from promptkit.scorers.base import Case, Score, scorer

_PUNCTUATION = str.maketrans("", "", string.punctuation + "¡¿«»“”‘’")  # noqa: RUF001


def normalise(value: Any) -> str:
    """Comparable text: lower case, no accents, no punctuation, single spaces."""
    text = fold("" if value is None else str(value)).translate(_PUNCTUATION)
    return " ".join(text.split())


def _compared(case: Case, use_raw: bool) -> str:
    return case.raw if use_raw or case.output is None else str(case.output)


@scorer("exact_match")
def exact_match(case: Case, *, normalize: bool = True, raw: bool = False) -> Score:
    """The parsed output equals the reference (normalised: case, accents, punctuation)."""
    got = _compared(case, raw)
    if normalize:
        same = normalise(got) == normalise(case.expected)
    else:
        same = got.strip() == str(case.expected).strip()
    return Score(float(same))


@scorer("contains")
def contains(
    case: Case, *, values: Sequence[str] | None = None, mode: str = "any", raw: bool = True
) -> Score:
    """The reply contains the reference (or any/all of ``values``), normalised."""
    if mode not in ("any", "all"):
        raise ValueError("contains: mode must be 'any' or 'all'")
    wanted = [normalise(v) for v in (values if values is not None else [case.expected])]
    text = normalise(_compared(case, raw))
    hits = [w for w in wanted if w and w in text]
    ok = bool(hits) if mode == "any" else len(hits) == len(wanted)
    return Score(float(ok), explanation=f"found {hits}" if hits else "found none")


@scorer("regex")
def regex(case: Case, *, pattern: str, raw: bool = True, ignore_case: bool = True) -> Score:
    """The reply matches ``pattern`` (searched anywhere)."""
    flags = re.IGNORECASE if ignore_case else 0
    return Score(float(re.search(pattern, _compared(case, raw), flags) is not None))


@scorer("label_accuracy")
def label_accuracy(case: Case) -> Score:
    """The label the parser read equals the reference label; no label read scores 0."""
    if case.output is None:
        return Score(0.0, label=None, explanation=case.parse_error)
    got = str(case.output)
    return Score(float(fold(got).strip() == fold(str(case.expected)).strip()), label=got)


def _number(value: Any) -> float | None:
    match = re.search(r"-?\d+(?:[.,]\d+)?", "" if value is None else str(value))
    return float(match.group().replace(",", ".")) if match else None


@scorer("numeric")
def numeric(case: Case, *, tolerance: float = 0.0, relative: bool = False) -> Score:
    """The first number in the output is within ``tolerance`` of the reference."""
    got, want = (
        _number(case.output if case.output is not None else case.raw),
        _number(case.expected),
    )
    if got is None or want is None:
        return Score(0.0, explanation="no number to compare")
    allowed = tolerance * abs(want) if relative else tolerance
    return Score(float(abs(got - want) <= allowed), explanation=f"{got:g} vs {want:g}")
