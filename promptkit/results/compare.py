"""Paired comparison of variants on the rows both of them scored.

Rows are matched by ``row_id``; repeats are averaged per row first, so each row
counts once. Each metric gets a paired difference (b - a) with its interval and
p-value, and the rows that flipped. When several comparisons are made at once
(several metrics, several variants against a baseline, every variant of two runs)
the p-values are Holm-adjusted across all of them together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from promptkit.errors import BadInput
from promptkit.results.stats import PairedDifference, holm, paired_difference

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Comparison",
    "FlippedRow",
    "MetricComparison",
    "adjust_together",
    "compare_many",
    "compare_variants",
    "find_variant",
    "flipped_rows",
    "plan_pairs",
    "run_metrics",
    "variant_scores",
]


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
    family: int = 0  # how many comparisons the Holm adjustment covered


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


def _compare_metric(
    frame_a: pd.DataFrame, a: str, frame_b: pd.DataFrame, b: str, metric: str
) -> tuple[MetricComparison, int]:
    left = variant_scores(frame_a, a, metric)
    right = variant_scores(frame_b, b, metric)
    shared = sorted(set(left.index) & set(right.index))
    x, y = left.loc[shared], right.loc[shared]
    diff = paired_difference(x.tolist(), y.tolist())
    nan = float("nan")
    result = MetricComparison(
        metric=metric,
        a_mean=float(x.mean()) if shared else nan,
        b_mean=float(y.mean()) if shared else nan,
        difference=diff,
        p_holm=diff.p_value,
        fixed=[r for r in shared if x[r] < 0.5 <= y[r]],
        broken=[r for r in shared if y[r] < 0.5 <= x[r]],
    )
    return result, len(shared)


def _unadjusted(
    frame_a: pd.DataFrame, a: str, frame_b: pd.DataFrame, b: str, metrics: Sequence[str]
) -> Comparison:
    results = [_compare_metric(frame_a, a, frame_b, b, m) for m in metrics]
    rows = max((n for _, n in results), default=0)
    return Comparison(a=a, b=b, rows=rows, metrics=[m for m, _ in results])


def _adjust(comparisons: list[Comparison]) -> list[Comparison]:
    """Holm across every metric of every comparison: one family of tests."""
    flat = [m for c in comparisons for m in c.metrics]
    adjusted = iter(holm([m.difference.p_value if m.difference.n else 1.0 for m in flat]))
    return [
        replace(c, metrics=[replace(m, p_holm=next(adjusted)) for m in c.metrics], family=len(flat))
        for c in comparisons
    ]


def compare_variants(
    frame_a: pd.DataFrame,
    a: str,
    frame_b: pd.DataFrame,
    b: str,
    metrics: Sequence[str],
) -> Comparison:
    """Compare variant ``a`` of ``frame_a`` with variant ``b`` of ``frame_b`` (may be one run);
    p-values Holm-adjusted across the metrics."""
    return _adjust([_unadjusted(frame_a, a, frame_b, b, metrics)])[0]


def compare_many(
    pairs: Sequence[tuple[str, str]],
    frame_a: pd.DataFrame,
    frame_b: pd.DataFrame,
    metrics: Sequence[str],
) -> list[Comparison]:
    """Several (a, b) pairs at once, Holm-adjusted across every pair and metric."""
    return _adjust([_unadjusted(frame_a, a, frame_b, b, metrics) for a, b in pairs])


def adjust_together(comparisons: Sequence[Comparison]) -> list[Comparison]:
    """Comparisons made separately (several suites' runs), Holm-adjusted as one family."""
    return _adjust(list(comparisons))


def run_variants(frame: pd.DataFrame) -> list[str]:
    return [str(v) for v in dict.fromkeys(frame["variant"])] if "variant" in frame else []


def run_metrics(frame_a: pd.DataFrame, frame_b: pd.DataFrame | None = None) -> list[str]:
    """Metrics scored in the run (in both runs, when two are given), in column order."""
    names = [c.removeprefix("score.") for c in frame_a.columns if c.startswith("score.")]
    if frame_b is not None:
        names = [n for n in names if f"score.{n}" in frame_b.columns]
    return names


def find_variant(frame: pd.DataFrame, name: str) -> str:
    """A variant id from its full id or any unique part of it (``cls@v2``, ``k=4``)."""
    variants = run_variants(frame)
    if name in variants:
        return name
    matches = [v for v in variants if name in v]
    if len(matches) == 1:
        return matches[0]
    what = "no variant" if not matches else f"{len(matches)} variants"
    verb = "matches" if not matches else "match"
    raise BadInput(
        f"{what} of run {frame.attrs.get('run_id', '?')} {verb} {name!r}",
        hint="give one of: " + "; ".join(matches or variants),
    )


def plan_pairs(
    frame_a: pd.DataFrame,
    frame_b: pd.DataFrame | None = None,
    *,
    a: str | None = None,
    b: str | None = None,
) -> list[tuple[str, str]]:
    """Which variants to compare.

    One run: ``a`` against ``b``; without ``b``, every other variant against ``a``
    (default: the run's first variant, the baseline). Two runs: ``a`` of the first
    against ``b`` of the second; without them, each variant against the variant of
    the same id in the second run.
    """
    if frame_b is None:
        variants = run_variants(frame_a)
        if not variants:
            raise BadInput("the run has no rows", hint="run 'promptkit eval' first")
        baseline = find_variant(frame_a, a) if a else variants[0]
        others = [find_variant(frame_a, b)] if b else [v for v in variants if v != baseline]
        if others == [baseline] and len(variants) > 1:
            raise BadInput(
                f"nothing to compare: --a and --b both name {baseline!r}",
                hint="give --b a part of another variant's id: " + "; ".join(variants),
            )
        if not others or others == [baseline]:
            raise BadInput(
                "nothing to compare: one variant only",
                hint="name two variants with --a and --b, or another run with --run-b",
            )
        return [(baseline, other) for other in others]
    if a or b:
        left = find_variant(frame_a, a or b or "")
        return [(left, find_variant(frame_b, b or a or ""))]
    shared = [v for v in run_variants(frame_a) if v in set(run_variants(frame_b))]
    if not shared:
        raise BadInput(
            "the two runs share no variant id", hint="name the two variants with --a and --b"
        )
    return [(v, v) for v in shared]


@dataclass(frozen=True)
class FlippedRow:
    row_id: str
    expected: Any
    a_output: str | None
    b_output: str | None


def flipped_rows(
    frame_a: pd.DataFrame, a: str, frame_b: pd.DataFrame, b: str, row_ids: Sequence[str]
) -> list[FlippedRow]:
    """The first output of each side for the given rows, to show what changed."""
    left, right = _first_outputs(frame_a, a), _first_outputs(frame_b, b)
    return [
        FlippedRow(
            row_id=r,
            expected=left.get(r, {}).get("expected", right.get(r, {}).get("expected")),
            a_output=left.get(r, {}).get("output"),
            b_output=right.get(r, {}).get("output"),
        )
        for r in row_ids
    ]


def _first_outputs(frame: pd.DataFrame, variant: str) -> dict[str, dict[str, Any]]:
    rows = frame[frame["variant"] == variant]
    columns = [c for c in ("row_id", "expected", "output") if c in rows]
    first = rows[columns].drop_duplicates("row_id")
    return {str(r["row_id"]): r for r in first.to_dict("records")}
