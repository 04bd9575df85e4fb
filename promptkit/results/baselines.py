"""The trivial answers every label table needs beside its variants.

A label task's score means little alone: 0.39 accuracy on three classes sounds
better than chance (0.33) and is worse than always answering the most frequent
label when that label holds 39% of the rows. So a label task (one scored by
``label_accuracy``, the rule that also gives it a classification report) shows

- the *majority class* rate: the share of evaluation rows whose reference is the
  most frequent label, with its Wilson interval (as every pass/fail score has);
  when several labels tie for most frequent, all of them are named;
- the *uniform chance* rate: 1 / the number of labels, the expected accuracy of
  guessing uniformly, exact on any rows, so it has no interval;
- for each variant, a paired test against always answering the majority label
  on the rows the variant scored (the same test ``compare`` uses).

The counting is plain Python over ``row id -> reference``; the interval and the
paired test are :mod:`promptkit.results.stats`', so they are the ones used everywhere
else. References are compared folded, as ``label_accuracy`` compares them.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from promptkit.define.parsers import fold
from promptkit.results.stats import Estimate, PairedDifference, paired_difference, wilson_interval

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "BASELINE_NOTE",
    "LABEL_METRIC",
    "LabelBaseline",
    "VersusMajority",
    "label_baseline",
    "run_baseline",
    "shown_baseline",
    "variant_versus_majority",
    "versus_majority",
]

#: The scorer that makes a suite a label task (and scores the baselines' column).
LABEL_METRIC = "label_accuracy"

#: What the trivial-answer rows and the "beats majority" column mean, in every output.
BASELINE_NOTE = (
    "majority class: always the most frequent reference label (Wilson interval); "
    "uniform chance: 1 / labels; beats majority: the variant minus the majority class "
    "on the rows it scored, paired (yes: p < 0.05 and the interval above 0)"
)


@dataclass(frozen=True)
class LabelBaseline:
    """Majority-class and uniform-chance rates of a label task's evaluation rows."""

    labels: tuple[str, ...]  # every reference label, as the references spell it
    majority: tuple[str, ...]  # the most frequent label; several when they tie
    majority_rows: int  # rows whose reference is (any one of) the majority label(s)
    rows: int  # rows with a reference label
    rate: Estimate  # majority_rows / rows with its Wilson interval
    unlabelled: int = 0  # rows left out: no reference label

    @property
    def chance(self) -> float:
        """Expected accuracy of guessing one of the labels uniformly at random."""
        return 1.0 / len(self.labels) if self.labels else float("nan")

    @property
    def tied(self) -> bool:
        return len(self.majority) > 1

    def majority_text(self, quote: Callable[[str], str] = repr) -> str:
        """``always 'neg'``, or ``always 'neg' or 'pos' (tied, 3 rows each)``; ``quote``
        writes a label (dataset text) the way the output keeps it inert."""
        quoted = " or ".join(quote(label) for label in self.majority)
        tie = f" (tied, {self.majority_rows} rows each)" if self.tied else ""
        return f"always {quoted}{tie}"

    def chance_text(self) -> str:
        return f"1 of {len(self.labels)} labels, exact"


@dataclass(frozen=True)
class VersusMajority:
    """A variant minus always answering ``label``, on the rows the variant scored."""

    label: str  # the majority label it was compared with (the hardest one, when tied)
    difference: PairedDifference

    @property
    def significant(self) -> bool:
        """Better by both the paired interval and the paired test, as advise's rules read."""
        d = self.difference
        return d.n > 0 and d.low > 0 and d.p_value < 0.05

    def text(self) -> str:
        """``yes +0.400 p=0.002`` / ``no +0.067 p=0.63``: the verdict, then its figures."""
        d = self.difference
        if not d.n:
            return "-"
        return f"{self.verdict()} {d.mean:+.3f} p={d.p_value:.2g}"

    def verdict(self) -> str:
        """``yes`` or ``no``: whether the variant beats the majority class."""
        return "yes" if self.significant else "no"


def label_baseline(references: Mapping[Hashable, Any]) -> LabelBaseline | None:
    """The baselines of rows given as ``row id -> reference``; None with no reference."""
    spelling: dict[str, str] = {}  # folded label -> its first spelling
    counts: dict[str, int] = {}
    unlabelled = 0
    for value in references.values():
        if _missing(value):
            unlabelled += 1
            continue
        key = _key(value)
        spelling.setdefault(key, str(value).strip())
        counts[key] = counts.get(key, 0) + 1
    if not counts:
        return None
    most = max(counts.values())
    rows = sum(counts.values())
    low, high = wilson_interval(most, rows)
    return LabelBaseline(
        labels=tuple(spelling[k] for k in sorted(counts)),
        majority=tuple(spelling[k] for k in sorted(counts) if counts[k] == most),
        majority_rows=most,
        rows=rows,
        rate=Estimate(most / rows, low, high, rows, "wilson"),
        unlabelled=unlabelled,
    )


def versus_majority(
    scores: Mapping[Hashable, float],
    references: Mapping[Hashable, Any],
    baseline: LabelBaseline,
) -> VersusMajority:
    """``scores`` (row id -> the variant's score, repeats averaged) against always
    answering the majority label, paired on the scored rows that carry a reference.

    With tied majority labels each is tested and the least favourable result kept
    (the highest p-value): beating "the majority class" must hold whichever it is.
    """
    rows = [r for r in sorted(scores, key=str) if not _missing(references.get(r))]
    mine = [float(scores[r]) for r in rows]
    results = []
    for label in baseline.majority:
        trivial = [float(_key(references[r]) == _key(label)) for r in rows]
        results.append(VersusMajority(label, paired_difference(trivial, mine)))
    return max(results, key=lambda v: (v.difference.p_value, -v.difference.mean))


def shown_baseline(baselines: Iterable[LabelBaseline | None]) -> LabelBaseline | None:
    """The one baseline a table shows: the run's, which each of its variants carries."""
    return next((b for b in baselines if b is not None), None)


def run_baseline(frame: pd.DataFrame) -> LabelBaseline | None:
    """The baselines of every evaluation row in a journal frame (errored or not)."""
    if frame.empty or "expected" not in frame:
        return None
    return label_baseline(_references(frame))


def variant_versus_majority(ok: pd.DataFrame, baseline: LabelBaseline) -> VersusMajority | None:
    """:func:`versus_majority` for one variant's error-free journal rows."""
    column = f"score.{LABEL_METRIC}"
    if ok.empty or column not in ok or "expected" not in ok:
        return None
    scored = ok[["row_id", column]].dropna()
    if scored.empty:
        return None
    means = scored.groupby("row_id", sort=True)[column].mean()
    scores = {row: float(value) for row, value in means.items()}
    return versus_majority(scores, _references(ok), baseline)


def _references(frame: pd.DataFrame) -> dict[Hashable, Any]:
    """Row id -> its reference, once per row (every variant and repeat carries it)."""
    references: dict[Hashable, Any] = {}
    for row, value in zip(frame["row_id"], frame["expected"], strict=True):
        references.setdefault(row, value)
    return references


def _key(value: Any) -> str:
    return fold(str(value)).strip()


def _missing(value: Any) -> bool:
    return value is None or value != value  # None, or NaN (pandas' blank)
