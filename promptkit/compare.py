"""Paired comparison of two variants on the rows both of them scored.

Rows are matched by ``row_id``; repeats are averaged per row first, so each row
counts once. Each metric gets a paired difference (b - a) with its interval and
p-value, Holm-adjusted across the metrics compared, and the rows that flipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from promptkit.stats import PairedDifference, holm, paired_difference

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Comparison", "MetricComparison", "compare_variants", "variant_scores"]


@dataclass(frozen=True)
class MetricComparison:
    metric: str
    a_mean: float
    b_mean: float
    difference: PairedDifference
    p_holm: float
    fixed: list[str] = field(default_factory=list)  # row ids: a failed (< 0.5), b passed
    broken: list[str] = field(default_factory=list)  # row ids: a passed, b failed


@dataclass(frozen=True)
class Comparison:
    a: str
    b: str
    rows: int  # rows scored by both
    metrics: list[MetricComparison]


def variant_scores(frame: pd.DataFrame, variant: str, metric: str) -> pd.Series:
    """Per-row mean of one metric for one variant (error rows excluded)."""
    column = f"score.{metric}"
    rows = frame[frame["variant"] == variant]
    if "error" in rows:
        rows = rows[rows["error"].isna()]
    import pandas as pd

    if column not in rows:
        return pd.Series(dtype=float)
    series: pd.Series = rows.groupby("row_id")[column].mean().dropna()
    return series


def compare_variants(
    frame_a: pd.DataFrame,
    a: str,
    frame_b: pd.DataFrame,
    b: str,
    metrics: Sequence[str],
) -> Comparison:
    """Compare variant ``a`` of ``frame_a`` with variant ``b`` of ``frame_b`` (may be one run)."""
    results: list[tuple[str, float, float, PairedDifference, list[str], list[str]]] = []
    common_rows = 0
    for metric in metrics:
        left = variant_scores(frame_a, a, metric)
        right = variant_scores(frame_b, b, metric)
        shared = sorted(set(left.index) & set(right.index))
        common_rows = max(common_rows, len(shared))
        x, y = left.loc[shared], right.loc[shared]
        diff = paired_difference(x.tolist(), y.tolist())
        fixed = [r for r in shared if x[r] < 0.5 <= y[r]]
        broken = [r for r in shared if y[r] < 0.5 <= x[r]]
        a_mean = float(x.mean()) if shared else float("nan")
        b_mean = float(y.mean()) if shared else float("nan")
        results.append((metric, a_mean, b_mean, diff, fixed, broken))
    adjusted = holm([r[3].p_value if r[3].n else 1.0 for r in results])
    return Comparison(
        a=a,
        b=b,
        rows=common_rows,
        metrics=[
            MetricComparison(m, am, bm, d, p, fixed, broken)
            for (m, am, bm, d, fixed, broken), p in zip(results, adjusted, strict=True)
        ],
    )
