"""Text scorers: exact and normalised match, contains, regex, ROUGE-L and chrF.

ROUGE-L comes from ``rouge-score`` (Google's reimplementation of ROUGE-1.5.5) and
chrF from ``sacrebleu``: both are the reference implementations papers cite, so
figures compare with published ones. Their imports happen when a suite first names
them, not when promptkit loads.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any

from promptkit.define.parsers import fold
from promptkit.scorers.base import Case, Score, ScorerSetup, scorer, scorer_factory

__all__ = ["normalise"]


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


def _reference(case: Case) -> str:
    return "" if case.expected is None else str(case.expected)


@scorer("exact_match")
def exact_match(case: Case, *, normalize: bool = True, raw: bool = False) -> Score:
    """The parsed output equals the reference (normalised: case, accents, punctuation)."""
    got = _compared(case, raw)
    if normalize:
        same = normalise(got) == normalise(case.expected)
    else:
        same = got.strip() == _reference(case).strip()
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


@scorer_factory("regex")
def regex(
    setup: ScorerSetup, *, pattern: str, raw: bool = True, ignore_case: bool = True
) -> Callable[[Case], Score]:
    """The reply matches ``pattern`` (searched anywhere); compiled once, checked at load."""
    try:
        compiled = re.compile(pattern, re.IGNORECASE if ignore_case else 0)
    except re.error as exc:
        raise ValueError(f"bad pattern {pattern!r}: {exc}") from None

    def score(case: Case) -> Score:
        return Score(float(compiled.search(_compared(case, raw)) is not None))

    return score


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
