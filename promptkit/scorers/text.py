"""Text scorers: exact and normalised match, contains, starts_with, regex, Levenshtein
distance, ROUGE-L and chrF.

ROUGE-L comes from ``rouge-score`` (Google's reimplementation of ROUGE-1.5.5) and
chrF from ``sacrebleu``: both are the reference implementations papers cite, so
figures compare with published ones. Their imports happen when a suite first names
them, not when promptkit loads.
"""

from __future__ import annotations

import functools
import re
import string
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any

from promptkit.define.parsers import fold
from promptkit.scorers.base import Case, Score, ScorerSetup, scorer, scorer_factory

__all__ = ["edit_distance", "normalise"]


class _Punctuation(dict[int, int | None]):
    """A ``str.translate`` table dropping ASCII punctuation and every Unicode punctuation
    mark (``。``, ``¿``, ``«``...), filled in as characters are first seen."""

    def __missing__(self, code: int) -> int | None:
        char = chr(code)
        dropped = char in string.punctuation or unicodedata.category(char).startswith("P")
        kept = None if dropped else code
        self[code] = kept
        return kept


_PUNCTUATION = _Punctuation()
_WORD = re.compile(r"\w+")


def normalise(value: Any) -> str:
    """Comparable text: lower case, no accents, no punctuation, single spaces."""
    text = fold("" if value is None else str(value)).translate(_PUNCTUATION)
    return " ".join(text.split())


def _compared(case: Case, use_raw: bool) -> str:
    return case.raw if use_raw or case.output is None else str(case.output)


def _reference(case: Case, column: str | None = None) -> str:
    """The reference, or with ``column`` that dataset column's value in this case's row."""
    value = case.expected if column is None else _column(case, column)
    return "" if value is None else str(value)


def _column(case: Case, column: str) -> Any:
    if column not in case.row:
        raise KeyError(f"the row has no column {column!r}")
    return case.row[column]


#: How ``contains`` and ``starts_with`` compare text.
_COMPARE: dict[str, Callable[[str], str]] = {
    "normalised": normalise,  # case, accents, punctuation and spacing ignored
    "ignore_case": str.casefold,
    "exact": str,
}


def _comparer(compare: str) -> Callable[[str], str]:
    if compare not in _COMPARE:
        raise ValueError(f"compare must be one of {', '.join(_COMPARE)}")
    return _COMPARE[compare]


@scorer("exact_match")
def exact_match(
    case: Case, *, normalize: bool = True, raw: bool = False, column: str | None = None
) -> Score:
    """The parsed output equals the reference (normalised: case, accents, punctuation);
    ``column`` names a dataset column to compare with instead."""
    got, want = _compared(case, raw), _reference(case, column)
    same = normalise(got) == normalise(want) if normalize else got.strip() == want.strip()
    return Score(float(same))


@scorer("contains")
def contains(
    case: Case,
    *,
    values: Sequence[str] | None = None,
    mode: str = "any",
    raw: bool = True,
    column: str | None = None,
    compare: str = "normalised",
) -> Score:
    """The reply contains the reference (or any/all of ``values``, or of the text or list
    in dataset ``column``); ``compare``: normalised (default), ignore_case or exact."""
    if mode not in ("any", "all"):
        raise ValueError("contains: mode must be 'any' or 'all'")
    prepare = _comparer(compare)
    wanted = [prepare(str(v)) for v in _wanted(case, values, column)]
    text = prepare(_compared(case, raw))
    hits = [w for w in wanted if w and w in text]
    ok = bool(hits) if mode == "any" else len(hits) == len(wanted)
    return Score(float(ok), explanation=f"found {hits}" if hits else "found none")


def _wanted(case: Case, values: Sequence[str] | None, column: str | None) -> list[Any]:
    if values is not None:
        return list(values)
    found = case.expected if column is None else _column(case, column)
    return list(found) if isinstance(found, list) else [found]


@scorer("starts_with")
def starts_with(
    case: Case,
    *,
    value: str | None = None,
    column: str | None = None,
    raw: bool = True,
    compare: str = "exact",
) -> Score:
    """The reply (leading spaces dropped) starts with ``value``, the reference, or the text
    in dataset ``column``; ``compare``: exact (default), ignore_case or normalised."""
    prepare = _comparer(compare)
    want = prepare(value if value is not None else _reference(case, column))
    return Score(float(prepare(_compared(case, raw).lstrip()).startswith(want)))


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: insertions, deletions and substitutions, one row at a time."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            cost = 0 if char_a == char_b else 1
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost))
        previous = current
    return previous[-1]


@scorer("levenshtein")
def levenshtein(case: Case, *, max: int = 5, column: str | None = None, raw: bool = True) -> Score:
    """The reply is at most ``max`` edits (Levenshtein) from the reference or ``column``."""
    distance = edit_distance(_compared(case, raw).strip(), _reference(case, column).strip())
    return Score(float(distance <= max), explanation=f"distance {distance}")


@scorer_factory("regex")
def regex(
    setup: ScorerSetup,
    *,
    pattern: str | None = None,
    column: str | None = None,
    raw: bool = True,
    ignore_case: bool = True,
) -> Callable[[Case], Score]:
    """The reply matches ``pattern`` (searched anywhere; compiled once, checked at load),
    or the pattern in dataset ``column`` (compiled per distinct pattern)."""
    if (pattern is None) == (column is None):
        raise ValueError("give either the argument 'pattern' or 'column'")
    flags = re.IGNORECASE if ignore_case else 0
    fixed = None if pattern is None else _compile(pattern, flags)

    def score(case: Case) -> Score:
        compiled = fixed or _compile(_reference(case, column), flags)
        return Score(float(compiled.search(_compared(case, raw)) is not None))

    return score


@functools.lru_cache(maxsize=1024)
def _compile(pattern: str, flags: int) -> re.Pattern[str]:
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise ValueError(f"bad pattern {pattern!r}: {exc}") from None


class _FoldingTokenizer:
    """Words of any script, lower case without accents.

    rouge-score's default tokenizer keeps only ``[a-z0-9]``, so 'não' becomes 'n o'
    and Greek or Cyrillic text vanishes; this keeps every word character.
    """

    def tokenize(self, text: str) -> list[str]:
        return _WORD.findall(fold(text))


@scorer_factory("rouge_l")
def rouge_l(
    setup: ScorerSetup, *, raw: bool = False, max_tokens: int = 2000
) -> Callable[[Case], Score]:
    """ROUGE-L F-measure against the reference (rouge-score, Unicode word tokens).

    The longest-common-subsequence table grows with the product of both lengths, so
    texts are cut to their first ``max_tokens`` words (the explanation says so).
    """
    from rouge_score import rouge_scorer

    tokenizer = _FoldingTokenizer()
    engine = rouge_scorer.RougeScorer(["rougeL"], tokenizer=tokenizer)

    def score(case: Case) -> Score:
        got, want = tokenizer.tokenize(_compared(case, raw)), tokenizer.tokenize(_reference(case))
        if not got and not want:
            return Score(1.0, explanation="both empty")
        cut = len(got) > max_tokens or len(want) > max_tokens
        got, want = got[:max_tokens], want[:max_tokens]
        result = engine.score(" ".join(want), " ".join(got))["rougeL"]
        note = f" (cut to {max_tokens} tokens)" if cut else ""
        return Score(
            float(result.fmeasure),
            explanation=f"P={result.precision:.3f} R={result.recall:.3f}{note}",
        )

    return score


@scorer_factory("chrf")
def chrf(
    setup: ScorerSetup, *, raw: bool = False, char_order: int = 6, word_order: int = 0
) -> Callable[[Case], Score]:
    """chrF (sacrebleu's sentence chrF, 0-100 scaled to 0-1); ``word_order: 2`` gives chrF++."""
    from sacrebleu.metrics.chrf import CHRF

    metric = CHRF(char_order=char_order, word_order=word_order)

    def score(case: Case) -> Score:
        got, want = _compared(case, raw), _reference(case)
        if not got.strip() and not want.strip():
            return Score(1.0, explanation="both empty")
        return Score(metric.sentence_score(got, [want]).score / 100.0)

    return score
