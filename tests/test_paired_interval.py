"""Newcombe's paired score interval for pass/fail differences (issue: intervals that hold with
few discordant rows)."""

from __future__ import annotations

import numpy as np
import pytest

from promptkit.results.stats import paired_difference, paired_proportion_interval


def _rows(both: int, only_b: int, only_a: int, neither: int) -> tuple[list[float], list[float]]:
    """Per-row pass/fail scores of variants a and b from the four cells of the paired table."""
    a = [1.0] * both + [0.0] * only_b + [1.0] * only_a + [0.0] * neither
    b = [1.0] * both + [1.0] * only_b + [0.0] * only_a + [0.0] * neither
    return a, b


@pytest.mark.parametrize(
    ("cells", "low", "high"),
    [
        # Newcombe (1998), Statistics in Medicine 17:2635, the paired examples of his Table II,
        # method 10 (cells: both, first only, second only, neither).
        ((36, 12, 2, 0), 0.0569, 0.3404),
        ((18, 12, 2, 18), 0.0562, 0.3290),
        ((53, 0, 0, 1), -0.0729, 0.0729),
        ((0, 30, 0, 0), 0.8395, 1.0),
    ],
)
def test_newcombe_method_10_reproduces_the_papers_examples(
    cells: tuple[int, int, int, int], low: float, high: float
) -> None:
    got_low, got_high = paired_proportion_interval(*cells)
    assert got_low == pytest.approx(low, abs=1e-4)
    assert got_high == pytest.approx(high, abs=1e-4)
    diff = paired_difference(*_rows(*cells))
    assert diff.interval == "newcombe-score" and diff.method == "mcnemar-exact"
    assert (diff.low, diff.high) == pytest.approx((got_low, got_high))


def test_one_discordant_row_of_36_gets_an_honest_width() -> None:
    # b lost one row of 36; the percentile bootstrap said [-0.083, +0.000].
    diff = paired_difference(*_rows(35, 0, 1, 0))
    assert diff.mean == pytest.approx(-1 / 36)
    assert (diff.low, diff.high) == pytest.approx((-0.1417, 0.0713), abs=1e-4)
    assert diff.interval_text() == "-0.028 [-0.142, +0.071] newcombe-score"


def test_no_discordant_row_is_not_a_zero_width_interval() -> None:
    # With a bootstrap this was [0, 0], so `max_regression: 0.05` passed on any number of rows.
    diff = paired_difference(*_rows(30, 0, 0, 6))
    assert diff.mean == 0.0 and diff.discordance == 0.0
    assert diff.low < -0.05 and diff.high > 0.05
    more = paired_difference(*_rows(3000, 0, 0, 600))
    assert -0.01 < more.low < 0.0 < more.high < 0.01  # more rows, a narrower interval


@pytest.mark.parametrize("cells", [(10, 3, 1, 6), (0, 0, 5, 0), (4, 0, 0, 0), (1, 7, 2, 0)])
def test_swapping_the_variants_mirrors_the_interval(cells: tuple[int, int, int, int]) -> None:
    both, only_b, only_a, neither = cells
    low, high = paired_proportion_interval(both, only_b, only_a, neither)
    mirrored = paired_proportion_interval(both, only_a, only_b, neither)
    assert mirrored == pytest.approx((-high, -low))


def test_the_interval_is_within_bounds_and_holds_the_estimate() -> None:
    rng = np.random.default_rng(3)
    for _ in range(300):
        cells = rng.multinomial(int(rng.integers(1, 60)), rng.dirichlet([1, 1, 1, 1]))
        both, only_b, only_a, neither = (int(c) for c in cells)
        n = both + only_b + only_a + neither
        low, high = paired_proportion_interval(both, only_b, only_a, neither)
        assert -1.0 <= low <= (only_b - only_a) / n <= high <= 1.0


def test_graded_scores_keep_the_bootstrap_and_say_so() -> None:
    diff = paired_difference([0.2, 0.5, 0.7, 0.9], [0.3, 0.5, 0.6, 1.0])
    assert diff.interval == "bootstrap" and diff.method == "paired-bootstrap"
    assert diff.interval_text().endswith(" bootstrap")
    assert np.isnan(diff.discordance) and diff.sd > 0


def test_newcombe_covers_a_small_regression_where_the_bootstrap_does_not() -> None:
    # 36 rows, b truly 3 points worse, 5% of rows discordant: the situation of a small gate.
    rng, reps, n, true = np.random.default_rng(5), 400, 36, -0.03
    cell_probs = [0.80, 0.01, 0.04, 0.15]  # both, only b, only a, neither
    newcombe = bootstrap = 0
    for i in range(reps):
        cells = [int(c) for c in rng.multinomial(n, cell_probs)]
        diff = paired_difference(*_rows(*cells), seed=i)
        newcombe += diff.low <= true <= diff.high
        a, b = _rows(*cells)
        graded = paired_difference([x * 0.5 for x in a], [y * 0.5 for y in b], seed=i)
        bootstrap += graded.low * 2 <= true <= graded.high * 2  # same data, the bootstrap's way
    assert newcombe / reps >= 0.93  # at least nominal, within simulation error
    assert bootstrap / reps <= 0.85  # measured 0.76: it misses whenever no row disagrees
