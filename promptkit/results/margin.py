"""What margin a ``max_regression`` rule can resolve on the rows it has.

The rule is a non-inferiority test: it passes when the lower bound of the paired 95%
interval of ``head - base`` is at least ``-margin``. Its weak spot on few rows is not a
missed regression but a failed change that did not regress at all: the interval is
wide, so its lower bound falls below ``-margin`` by chance. So the figure a gate prints
is the chance that a change with *no* true difference passes, and the smallest margin
it passes with the planned power (80%): below that margin, the rows cannot tell a
regression of ``margin`` from noise.

Pass/fail rules use Newcombe's interval, so the chance is summed exactly over the
tables a change with no difference produces: discordant rows drawn at the pilot's
discordance, split evenly between the two sides, the concordant rows split at the
base's pass rate. Graded rules use the normal approximation of the bootstrap interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist
from typing import Any

from promptkit.results.stats import paired_proportion_intervals

__all__ = ["MarginPlan", "margin_plan"]

#: Rows beyond which the normal approximation replaces the exact sum (it is then exact
#: to well under a point, and the sum's table grows with the rows).
EXACT_ROWS = 2000
Z95 = NormalDist().inv_cdf(0.975)


@dataclass(frozen=True)
class MarginPlan:
    rows: int
    pass_chance: float  # that a change with no true difference passes the rule
    resolved: float  # the smallest margin passed with ``power``
    power: float

    def rows_for(self, margin: float, spread: float, base_rate: float, kind: str) -> int | None:
        """Rows at which a change with no difference passes ``margin`` with ``power``."""
        if margin <= 0:
            return None
        low, high = 1, max(2 * self.rows, 16)
        while _resolved(high, spread, base_rate, kind, self.power) > margin:
            high *= 2
            if high > 10**8:
                return None
        while low < high:
            middle = (low + high) // 2
            if _resolved(middle, spread, base_rate, kind, self.power) > margin:
                low = middle + 1
            else:
                high = middle
        return low


def margin_plan(
    rows: int, spread: float, base_rate: float, margin: float, kind: str, power: float = 0.8
) -> MarginPlan:
    """The plan of a ``max_regression`` rule with ``margin`` on ``rows`` rows.

    ``spread`` is the pilot's share of discordant rows (pass/fail) or the sd of its
    per-row differences (graded); ``base_rate`` the base's pass rate (pass/fail only).
    """
    return MarginPlan(
        rows=rows,
        pass_chance=_pass_chance(rows, spread, base_rate, kind, margin),
        resolved=_resolved(rows, spread, base_rate, kind, power),
        power=power,
    )


def _pass_chance(rows: int, spread: float, base_rate: float, kind: str, margin: float) -> float:
    if kind != "pass/fail" or rows > EXACT_ROWS:
        se = _standard_error(rows, spread, kind)
        return NormalDist().cdf((margin - Z95 * se) / se) if se > 0 else 1.0
    import numpy as np

    lows, weights = _exact_lower_bounds(rows, spread, base_rate)
    return float(min(1.0, np.sum(weights[lows >= -margin - 1e-12])))


def _resolved(rows: int, spread: float, base_rate: float, kind: str, power: float) -> float:
    """The smallest margin a change with no difference passes with ``power``."""
    if kind != "pass/fail" or rows > EXACT_ROWS:
        # lower bound = mean - z se with the mean ~ N(0, se): its power quantile, closed form
        return (Z95 + NormalDist().inv_cdf(power)) * _standard_error(rows, spread, kind)
    import numpy as np

    lows, weights = _exact_lower_bounds(rows, spread, base_rate)
    order = np.argsort(-lows)  # margins needed, smallest first
    reached = np.cumsum(weights[order]) >= power - 1e-12
    if not reached.any():
        return math.inf
    return float(max(-lows[order][int(np.argmax(reached))], 0.0))


def _standard_error(rows: int, spread: float, kind: str) -> float:
    sd = spread if kind != "pass/fail" else math.sqrt(max(spread, 0.0))
    return sd / math.sqrt(rows)


@lru_cache(maxsize=64)  # the pass chance and the resolved margin read the same tables
def _exact_lower_bounds(rows: int, spread: float, base_rate: float) -> tuple[Any, Any]:
    """Newcombe's lower bound on every table a change with no difference produces, and
    the chance of each: discordant counts near ``rows * spread``, split near evenly."""
    import numpy as np
    from scipy.stats import binom

    psi = min(max(spread, 0.0), 1.0)
    counts = _window(rows * psi, math.sqrt(rows * psi * (1 - psi)), 0, rows)
    splits = [_window(d / 2, math.sqrt(d) / 2, 0, int(d)) for d in counts]
    discordant = np.repeat(counts, [len(s) for s in splits])
    only_b = np.concatenate(splits)
    concordant = rows - discordant
    both_share = min(max((base_rate - psi / 2) / (1 - psi), 0.0), 1.0) if psi < 1 else 0.0
    both = np.round(concordant * both_share)
    low, _ = paired_proportion_intervals(both, only_b, discordant - only_b, concordant - both)
    weight = binom.pmf(discordant, rows, psi) * binom.pmf(only_b, discordant, 0.5)
    return low, weight


def _window(centre: float, sd: float, first: int, last: int) -> Any:
    """Whole numbers within 10 sd of ``centre`` (their chance outside is negligible)."""
    import numpy as np

    width = 10 * sd + 2
    return np.arange(max(first, int(centre - width)), min(last, int(centre + width)) + 1)
