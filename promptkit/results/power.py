"""Power and sample size for the paired comparisons ``compare`` and the gate make.

A gate on 36 rows cannot see a 3-point regression; this module says what it can see
and how many rows would see more. It plans from a pilot: the spread measured between
two variants (or two repeats of one) on the same rows.

Pass/fail metrics plan for the exact McNemar test ``compare`` uses: its power is
summed exactly over the number of discordant rows (:func:`mcnemar_power`), starting
from Connor's (1987) normal approximation::

    n = (z(1 - alpha/2) * sqrt(psi) + z(power) * sqrt(psi - delta**2))**2 / delta**2

where ``psi`` is the share of rows on which the two sides disagree and ``delta`` the
difference to detect. ``psi`` is never taken below ``delta``: a difference of
``delta`` needs at least that share of rows to disagree, so a pilot in which no row
disagreed plans with the fewest discordant rows the difference implies.

Graded metrics (and pass/fail averaged over repeats) use the paired normal
approximation ``n = ((z(1 - alpha/2) + z(power)) * sd / delta)**2`` with ``sd`` the
standard deviation of the per-row differences.

With repeats, :func:`variance_split` separates the between-row from the within-row
variance of a variant's scores, to say whether more rows or more repeats would
narrow its interval more.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import TYPE_CHECKING

from promptkit.errors import BadInput
from promptkit.results.stats import PairedDifference, paired_difference

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "PowerPlan",
    "VarianceSplit",
    "detectable_difference",
    "mcnemar_power",
    "plan_power",
    "plan_run",
    "rows_needed",
    "variance_split",
]

PASS_FAIL = "pass/fail"
GRADED = "graded"
#: A graded spread at or below this is float noise of equal differences, not a spread.
NO_SPREAD = 1e-12


def _z(power: float, alpha: float) -> tuple[float, float]:
    if not (0.0 < alpha < 1.0 and 0.0 < power < 1.0):
        raise ValueError(f"alpha and power must be between 0 and 1 (got {alpha}, {power})")
    normal = NormalDist()
    return normal.inv_cdf(1 - alpha / 2), normal.inv_cdf(power)


def _connor_rows(psi: float, delta: float, power: float, alpha: float) -> float:
    """Connor's (1987) normal-approximation rows for McNemar's test (module docstring)."""
    z_alpha, z_power = _z(power, alpha)
    root = z_alpha * math.sqrt(psi) + z_power * math.sqrt(max(psi - delta * delta, 0.0))
    return root * root / (delta * delta)


def mcnemar_power(rows: int, spread: float, delta: float, alpha: float = 0.05) -> float:
    """The chance that the exact McNemar test (``compare``'s) finds a difference of ``delta``
    on ``rows`` rows of which a share ``spread`` disagree (never taken below ``delta``).

    Exact, summed over the number of discordant rows that carry weight (Connor's normal
    approximation is 2-4 points optimistic for the exact test, even at thousands of rows).
    """
    psi = min(max(spread, delta), 1.0)
    import numpy as np
    from scipy.stats import binom

    # only counts of discordant rows with a weight worth summing (within 10 sd of the mean)
    width = 10 * math.sqrt(rows * psi * (1 - psi)) + 2
    first, last = max(0, int(rows * psi - width)), min(rows, int(rows * psi + width) + 1)
    discordant = np.arange(first, last + 1)
    # the exact test rejects when the smaller side has at most `cut` of the discordant rows
    cut = binom.ppf(alpha / 2, discordant, 0.5) - 1
    favour_b = (psi + delta) / (2 * psi)
    reject = binom.cdf(cut, discordant, favour_b) + binom.sf(
        discordant - cut - 1, discordant, favour_b
    )
    return float(np.sum(binom.pmf(discordant, rows, psi) * reject))


def rows_needed(
    kind: str, spread: float, delta: float, *, power: float = 0.8, alpha: float = 0.05
) -> int | None:
    """Rows the paired test needs to detect a difference of ``delta`` with ``power``.

    ``kind`` is ``"pass/fail"`` (``spread``: share of discordant rows; the exact McNemar
    test) or ``"graded"`` (``spread``: sd of the per-row differences; the normal
    approximation). None when the spread gives nothing to plan from (a graded pilot
    whose differences are all equal).
    """
    if not 0.0 < delta <= 1.0:
        raise ValueError(f"the difference to detect must be in (0, 1] (got {delta})")
    if math.isnan(spread) or (kind == GRADED and spread <= NO_SPREAD):
        return None
    if kind == GRADED:
        z_alpha, z_power = _z(power, alpha)
        return math.ceil(((z_alpha + z_power) * spread / delta) ** 2)
    approximate = math.ceil(_connor_rows(max(spread, delta), delta, power, alpha))
    # Connor's figure is a little optimistic for the exact test; the exact power rises
    # with the rows (in a small sawtooth), so bisect for the first count that reaches it.
    low, high = max(1, int(approximate * 0.7)), 2 * approximate + 10
    while low < high:
        middle = (low + high) // 2
        if mcnemar_power(middle, spread, delta, alpha) < power:
            low = middle + 1
        else:
            high = middle
    return low


def detectable_difference(
    kind: str, spread: float, rows: int, *, power: float = 0.8, alpha: float = 0.05
) -> float | None:
    """The smallest difference ``rows`` paired rows detect with ``power`` (None: no plan)."""
    if rows <= 0 or math.isnan(spread) or (kind == GRADED and spread <= NO_SPREAD):
        return None
    if kind == GRADED:
        z_alpha, z_power = _z(power, alpha)
        return (z_alpha + z_power) * spread / math.sqrt(rows)
    _z(power, alpha)  # the same checks as the other paths
    if mcnemar_power(rows, spread, 1.0, alpha) < power:
        return None  # not even a difference of 1 (every row flips) is detectable
    low, high = 0.0, 1.0  # power grows with the difference: bisect
    for _ in range(20):  # to 1e-6
        middle = (low + high) / 2
        if mcnemar_power(rows, spread, middle, alpha) < power:
            low = middle
        else:
            high = middle
    return high


@dataclass(frozen=True)
class VarianceSplit:
    """A variant's score variance split into between rows and within a row (repeats)."""

    rows: int
    repeats: int
    between: float  # variance of the rows' true means
    within: float  # variance of one row's repeats around its mean

    def narrowing(self, more_rows: float = 2.0, more_repeats: float = 1.0) -> float:
        """The interval's width after scaling rows and repeats, as a share of today's."""
        now = self.between + self.within / self.repeats
        then = (self.between + self.within / (self.repeats * more_repeats)) / more_rows
        return math.sqrt(then / now) if now > 0 else 1.0

    def advice(self) -> str:
        rows, repeats = self.narrowing(2.0, 1.0), self.narrowing(1.0, 2.0)
        share = self.within / self.repeats / (self.between + self.within / self.repeats or 1.0)
        verdict = (
            "more rows narrow it more"
            if repeats - rows > 0.02
            else "rows and repeats are worth about the same (repeats need no new labelled rows)"
        )
        return (
            f"variance split over {self.rows} rows x {self.repeats} repeats: between rows "
            f"{self.between:.4f}, within a row {self.within:.4f} ({share:.0%} of the mean's "
            f"variance is repeat noise); twice the rows -> {rows:.0%} of the interval's width, "
            f"twice the repeats -> {repeats:.0%}: {verdict}"
        )


def variance_split(scores_by_row: Sequence[Sequence[float]]) -> VarianceSplit | None:
    """Between- and within-row variance from each row's repeated scores (one-way ANOVA).

    None unless there are at least two rows with the same number (>= 2) of repeats.
    """
    rows = [list(r) for r in scores_by_row if len(r) >= 2]
    if len(rows) < 2:
        return None
    repeats = min(len(r) for r in rows)
    rows = [r[:repeats] for r in rows]
    means = [sum(r) / repeats for r in rows]
    within = sum(_variance(r) for r in rows) / len(rows)
    between = max(_variance(means) - within / repeats, 0.0)
    return VarianceSplit(len(rows), repeats, between, within)


def _variance(values: Sequence[float]) -> float:
    mean = sum(values) / len(values)
    return sum((v - mean) ** 2 for v in values) / (len(values) - 1)


@dataclass(frozen=True)
class PowerPlan:
    """What a pilot comparison says about the rows a paired test needs."""

    metric: str
    between: str  # what the spread was measured between, for the output to say
    kind: str  # "pass/fail" or "graded"
    rows: int
    spread: float  # share of discordant rows (pass/fail) or sd of the differences (graded)
    power: float
    alpha: float
    detectable: float | None  # at ``rows``
    mde: float | None = None
    needed: int | None = None  # rows for ``mde``
    split: VarianceSplit | None = None
    #: the smallest max_regression margin these rows pass an unchanged prompt on with
    #: ``power`` (:mod:`promptkit.results.margin`); None without a spread
    gate_margin: float | None = None

    def lines(self) -> list[str]:
        """The plan in sentences, as ``promptkit power`` prints it."""
        if not self.rows:
            return [f"{self.metric} between {self.between}: no rows scored by both"]
        spread = (
            f"{self.spread:.1%} of rows disagree"
            if self.kind == PASS_FAIL
            else f"sd of the per-row differences {self.spread:.3f}"
        )
        power = f"{self.power:.0%} power, two-sided alpha {self.alpha:g}"
        out = [f"{self.metric} ({self.kind}) between {self.between}: {spread} on {self.rows} rows"]
        if self.detectable is None and self.kind == GRADED:
            out.append("  nothing to plan from: the pilot's per-row differences are all equal")
        elif self.detectable is None:
            out.append(f"  with {self.rows} rows no difference is detectable with {power}")
        else:
            out.append(
                f"  with {self.rows} rows the paired test detects a difference of "
                f">= {self.detectable:.3f} with {power}"
            )
        if self.mde is not None:
            # with no discordant row the plan used the floor share mde: a lower bound
            floor = "at least " if self.kind == PASS_FAIL and self.spread < self.mde else "about "
            needed = "-" if self.needed is None else f"{floor}{self.needed:,} rows"
            out.append(f"  to detect {self.mde:g}: {needed} ({power})")
        if self.gate_margin is not None:
            margin = "no margin below 1" if self.gate_margin >= 1 else f"{self.gate_margin:.3f}"
            out.append(
                f"  a max_regression gate on these rows resolves margins from {margin} "
                f"(an unchanged prompt passes it with {self.power:.0%} power)"
            )
        if self.split is not None:
            out.append("  " + self.split.advice())
        return out


def plan_power(
    metric: str,
    between: str,
    difference: PairedDifference,
    *,
    mde: float | None = None,
    power: float = 0.8,
    alpha: float = 0.05,
    split: VarianceSplit | None = None,
    base_rate: float = 0.5,
) -> PowerPlan:
    """A :class:`PowerPlan` from a pilot's paired difference (see the module docstring);
    ``base_rate``: the first side's pass rate, for the gate's margin (pass/fail)."""
    from promptkit.results.margin import margin_plan

    kind = GRADED if math.isnan(difference.discordance) else PASS_FAIL
    spread = difference.sd if kind == GRADED else difference.discordance
    plannable = difference.n > 0 and not math.isnan(spread)
    plannable = plannable and (kind == PASS_FAIL or spread > NO_SPREAD)
    gate = margin_plan(difference.n, spread, base_rate, 0.0, kind, power) if plannable else None
    return PowerPlan(
        metric=metric,
        between=between,
        kind=kind,
        rows=difference.n,
        spread=spread,
        power=power,
        alpha=alpha,
        detectable=detectable_difference(kind, spread, difference.n, power=power, alpha=alpha),
        mde=mde,
        needed=None if mde is None else rows_needed(kind, spread, mde, power=power, alpha=alpha),
        split=split,
        gate_margin=None if gate is None else gate.resolved,
    )


def plan_run(
    frame: pd.DataFrame,
    *,
    a: str | None = None,
    b: str | None = None,
    metrics: Sequence[str] = (),
    mde: float | None = None,
    power: float = 0.8,
    alpha: float = 0.05,
) -> list[PowerPlan]:
    """Plans from a stored run (see :func:`promptkit.load_run`): one per pair and metric.

    With several variants the pilot is each variant against the first (or ``a`` against
    ``b``), as ``compare`` pairs them; with one variant it is its first two repeats, the
    spread a re-run of an unchanged prompt shows.
    """
    from promptkit.results.compare import find_variant, plan_pairs, run_metrics, run_variants

    variants, chosen = run_variants(frame), list(metrics) or run_metrics(frame)
    if not variants:
        raise BadInput("the run has no rows", hint="run 'promptkit eval' first")
    unknown = [m for m in chosen if m not in run_metrics(frame)]
    if unknown or not chosen:
        raise BadInput(
            f"no metric {unknown[0]!r} in the run" if unknown else "the run has no metric",
            hint=f"metrics: {', '.join(run_metrics(frame)) or 'none'}",
        )
    if len(variants) == 1 and not b:
        pairs = [(find_variant(frame, a or variants[0]),) * 2]
    else:
        pairs = plan_pairs(frame, a=a, b=b)
    plans = []
    for left, right in pairs:
        for metric in chosen:
            difference, between, base_rate = _pilot(frame, left, right, metric)
            split = variance_split(_repeat_differences(frame, left, right, metric))
            plans.append(
                plan_power(
                    metric,
                    between,
                    difference,
                    mde=mde,
                    power=power,
                    alpha=alpha,
                    split=split,
                    base_rate=base_rate,
                )
            )
    return plans


def _scores(frame: pd.DataFrame, variant: str, metric: str) -> pd.DataFrame:
    """One variant's scored cases (no errors): row_id, repeat, score."""
    rows = frame[frame["variant"] == variant]
    if "error" in rows:
        rows = rows[rows["error"].isna()]
    column = f"score.{metric}"
    if column not in rows:
        raise BadInput(f"no metric {metric!r} in the run", hint="give one with --metric")
    scored: pd.DataFrame = rows[["row_id", "repeat", column]].dropna()
    scored.columns = ["row_id", "repeat", "score"]
    return scored


def _pilot(frame: pd.DataFrame, a: str, b: str, metric: str) -> tuple[PairedDifference, str, float]:
    """The paired difference the plan measures its spread on, what it is between, and the
    first side's mean."""
    if a != b:  # the comparison compare makes
        from promptkit.results.compare import compare_variants

        found = compare_variants(frame, a, frame, b, [metric]).metrics[0]
        rate = found.a_mean if found.difference.n else 0.5
        return found.difference, f"{a} and {b}", rate
    scores = _scores(frame, a, metric).pivot_table(index="row_id", columns="repeat", values="score")
    if scores.shape[1] < 2:
        raise BadInput(
            "one variant without repeats: nothing to measure the spread between",
            hint="run two variants (the gate's pair), or the suite with 'repeat: 2' or more",
        )
    first, second = scores.columns[:2]
    both = scores[[first, second]].dropna()
    pair = paired_difference(both[first].tolist(), both[second].tolist())
    rate = float(both[first].mean()) if len(both) else 0.5
    return pair, f"repeats {first} and {second} of {a}", rate


def _repeat_differences(frame: pd.DataFrame, a: str, b: str, metric: str) -> list[list[float]]:
    """Per row, b - a for each repeat index (or the scores themselves for one variant)."""
    right = _scores(frame, b, metric).set_index(["row_id", "repeat"])["score"]
    if a == b:
        joined = right
    else:
        left = _scores(frame, a, metric).set_index(["row_id", "repeat"])["score"]
        joined = (right - left).dropna()
    return [list(group) for _, group in joined.groupby(level="row_id")]
