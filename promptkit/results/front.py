"""The cost-quality front: which variants no one should pick, because another is cheaper
per call and not worse.

Variant ``x`` is *dominated* by ``y`` when ``y`` costs less per call and is not
significantly worse than ``x`` on the rows both scored: either ``y``'s mean is at least
``x``'s, or the paired 95% interval of ``y - x`` reaches 0. "Not significantly worse"
is the honest reading of a small eval: a cheaper prompt whose deficit the rows cannot
tell from noise has not shown that the dearer one is worth its price. The variants no
one dominates are the front.

The interval is the one ``compare`` prints for pass/fail scores (Newcombe's paired
score interval), and for graded scores the paired normal interval (mean ± 1.96 sd/√n)
rather than the bootstrap, which would cost a tenth of a second per pair on 1000 rows.
Without per-row scores (figures from elsewhere) the variants' own intervals decide: ``y``
is significantly worse only when its upper bound is below ``x``'s lower bound.

*Cost* is a sort key: the cost per call when every variant is priced (tokens break
ties, so free local models are told apart), else tokens per call.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from promptkit.results.stats import Estimate, paired_cells, paired_proportion_interval

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "ON_FRONT",
    "FrontPoint",
    "dominated_by",
    "front_note",
    "significantly_worse",
    "spend_key",
    "spend_label",
]

Z95 = 1.959963984540054
#: What every output writes for a variant no other dominates.
ON_FRONT = "on the front"


@dataclass(frozen=True)
class FrontPoint:
    """One variant as the front sees it."""

    variant: str
    score: Estimate
    spend: tuple[float, ...]  # lower is cheaper, compared in order
    rows: Mapping[str, float] = field(default_factory=dict)  # row id -> score (mean of repeats)


def spend_key(cost_per_call: float | None, tokens_per_call: float) -> tuple[float, ...]:
    """The cost key: cost then tokens when priced (give None for every variant when any
    is unpriced), else tokens."""
    if cost_per_call is None:
        return (tokens_per_call,)
    return (cost_per_call, tokens_per_call)


def spend_label(priced: bool, free: bool = False) -> str:
    """What the front's cost axis is, for outputs to say."""
    if priced and free:
        return "tokens per call: every variant is free"
    if priced:
        return "cost per call, then tokens"
    return "tokens per call: not every variant is priced"


def front_note(axis: str, metric: str) -> str:
    """The sentence every output puts beside its front marks."""
    return (
        f"dominated: another variant costs less ({axis}) and is not significantly worse "
        f"on {metric} (paired 95% interval)"
    )


def dominated_by(points: Sequence[FrontPoint]) -> dict[str, str]:
    """Variant -> the variant that dominates it (the best-scoring such, then the cheapest);
    variants on the front are absent."""
    scored = [p for p in points if p.score.n > 0 and not math.isnan(p.score.mean)]
    table = _score_table(scored)
    result = {}
    for i, point in enumerate(scored):
        better = [
            j
            for j, other in enumerate(scored)
            if other.spend < point.spend and not _worse(other, point, table[j], table[i])
        ]
        if better:
            best = max(better, key=lambda j: (scored[j].score.mean, [-s for s in scored[j].spend]))
            result[point.variant] = scored[best].variant
    return result


def significantly_worse(cheap: FrontPoint, dear: FrontPoint) -> bool:
    """Is ``cheap`` significantly worse than ``dear`` (module docstring)?"""
    table = _score_table([cheap, dear])
    return _worse(cheap, dear, table[0], table[1])


def _score_table(points: Sequence[FrontPoint]) -> np.ndarray:
    """Per-row scores, one line per point, aligned on the union of their rows (nan: absent)."""
    import numpy as np

    columns = {row: i for i, row in enumerate(dict.fromkeys(r for p in points for r in p.rows))}
    table = np.full((len(points), len(columns)), np.nan)
    for line, point in enumerate(points):
        if point.rows:
            table[line, [columns[r] for r in point.rows]] = list(point.rows.values())
    return table


def _worse(cheap: FrontPoint, dear: FrontPoint, x: np.ndarray, y: np.ndarray) -> bool:
    """``cheap`` (scores ``x``) significantly worse than ``dear`` (scores ``y``)?"""
    import numpy as np

    if cheap.score.mean >= dear.score.mean:
        return False
    shared = ~(np.isnan(x) | np.isnan(y))
    if not shared.any():
        return cheap.score.high < dear.score.low
    x, y = x[shared], y[shared]
    cells = paired_cells(y, x)  # b is the cheap one: the interval of cheap - dear
    if cells is not None:
        return paired_proportion_interval(*cells)[1] < 0
    if x.size < 2:
        return False
    diffs = x - y
    return bool(diffs.mean() + Z95 * diffs.std(ddof=1) / math.sqrt(diffs.size) < 0)
