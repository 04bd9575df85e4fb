"""Paired comparison of variants on the rows both of them scored.

Rows are matched by ``row_id``; repeats are averaged per row first, so each row
counts once. Each metric gets a paired difference (b - a) with its interval and
p-value, and the rows that flipped.

The multiple-testing family is one rule for every output (``compare``, the
baseline table, ``pr.md``, the HTML report): the p-values an output shows are
Holm-adjusted together, over every pair of variants and every metric in it, and
the output says so with :func:`holm_note`.
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
    "Pairing",
    "compare_many",
    "compare_variants",
    "find_variant",
    "flipped_rows",
    "holm_family",
    "holm_note",
    "pair_variants",
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


def holm_family(comparisons: Sequence[Comparison]) -> list[Comparison]:
    """Holm across every metric of every comparison given: one family of tests, the one
    an output shows (see the module docstring)."""
    flat = [m for c in comparisons for m in c.metrics]
    adjusted = iter(holm([m.difference.p_value if m.difference.n else 1.0 for m in flat]))
    return [
        replace(c, metrics=[replace(m, p_holm=next(adjusted)) for m in c.metrics], family=len(flat))
        for c in comparisons
    ]


def holm_note(family: int) -> str:
    """The line an output prints to state its family."""
    return (
        f"p (Holm): adjusted over the {family} comparison(s) shown (every variant pair and metric)"
    )


def compare_variants(
    frame_a: pd.DataFrame,
    a: str,
    frame_b: pd.DataFrame,
    b: str,
    metrics: Sequence[str],
) -> Comparison:
    """Compare variant ``a`` of ``frame_a`` with variant ``b`` of ``frame_b`` (may be one run);
    p-values Holm-adjusted across the metrics."""
    return holm_family([_unadjusted(frame_a, a, frame_b, b, metrics)])[0]


def compare_many(
    pairs: Sequence[tuple[str, str]],
    frame_a: pd.DataFrame,
    frame_b: pd.DataFrame,
    metrics: Sequence[str],
) -> list[Comparison]:
    """Several (a, b) pairs at once, Holm-adjusted across every pair and metric."""
    return holm_family([_unadjusted(frame_a, a, frame_b, b, metrics) for a, b in pairs])


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


@dataclass(frozen=True)
class Pairing:
    pairs: list[tuple[str, str]]  # (variant of the first run, variant of the second)
    how: str  # how they were paired, for the output to say; empty within one run


def plan_pairs(
    frame_a: pd.DataFrame,
    frame_b: pd.DataFrame | None = None,
    *,
    a: str | None = None,
    b: str | None = None,
) -> list[tuple[str, str]]:
    """Which variants to compare (see :func:`pair_variants`)."""
    return pair_variants(frame_a, frame_b, a=a, b=b).pairs


def pair_variants(
    frame_a: pd.DataFrame,
    frame_b: pd.DataFrame | None = None,
    *,
    a: str | None = None,
    b: str | None = None,
) -> Pairing:
    """Which variants to compare, and how they were paired.

    One run: ``a`` against ``b``; without ``b``, every other variant against ``a``
    (default: the run's first variant, the baseline). Two runs: ``a`` of the first
    against ``b`` of the second; without them, each variant against the variant of
    the same id in the second run, or, when the runs share no id (two models), the
    variant of the same prompt and shots.
    """
    if frame_b is None:
        return Pairing(_one_run_pairs(frame_a, a, b), "")
    if a or b:
        left = find_variant(frame_a, a or b or "")
        return Pairing([(left, find_variant(frame_b, b or a or ""))], "named with --a/--b")
    shared = [v for v in run_variants(frame_a) if v in set(run_variants(frame_b))]
    if shared:
        return Pairing([(v, v) for v in shared], "paired by variant id")
    return _pair_across_models(frame_a, frame_b)


def _one_run_pairs(frame: pd.DataFrame, a: str | None, b: str | None) -> list[tuple[str, str]]:
    variants = run_variants(frame)
    if not variants:
        raise BadInput("the run has no rows", hint="run 'promptkit eval' first")
    baseline = find_variant(frame, a) if a else variants[0]
    others = [find_variant(frame, b)] if b else [v for v in variants if v != baseline]
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


def _pair_across_models(frame_a: pd.DataFrame, frame_b: pd.DataFrame) -> Pairing:
    """Variants of the same prompt and shots, when each run has one variant of each."""
    left, right = _by_prompt_and_shots(frame_a), _by_prompt_and_shots(frame_b)
    for side in (left, right):
        several = next((group for group in side.values() if len(group) > 1), None)
        if several:
            raise BadInput(
                "the two runs share no variant id, and one run has several models for the "
                f"same prompt and shots ({'; '.join(several)})",
                hint="name the two variants with --a and --b",
            )
    pairs = [(left[key][0], right[key][0]) for key in left if key in right]
    if not pairs:
        raise BadInput(
            "the two runs share no variant id, nor any prompt and shots",
            hint="name the two variants with --a and --b",
        )
    models = f"a: {_models(frame_a, pairs, 0)}; b: {_models(frame_b, pairs, 1)}"
    return Pairing(pairs, f"paired by prompt and shots across models ({models})")


def _by_prompt_and_shots(frame: pd.DataFrame) -> dict[str, list[str]]:
    """Variant ids grouped by the id with its model left out (``cls@v1 | k=0``)."""
    groups: dict[str, list[str]] = {}
    for variant, model in _variant_models(frame).items():
        key = variant.replace(f" | {model} | ", " | ", 1)
        groups.setdefault(key, []).append(variant)
    return groups


def _variant_models(frame: pd.DataFrame) -> dict[str, str]:
    first = frame.drop_duplicates("variant")
    return {str(v): str(m) for v, m in zip(first["variant"], first["model"], strict=True)}


def _models(frame: pd.DataFrame, pairs: Sequence[tuple[str, str]], side: int) -> str:
    models = _variant_models(frame)
    return ", ".join(dict.fromkeys(models[pair[side]] for pair in pairs))


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
