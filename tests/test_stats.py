from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from promptkit import evaluate, load_run, register_mock
from promptkit.results.compare import compare_variants
from promptkit.results.stats import (
    cluster_interval,
    holm,
    macro_f1_interval,
    mean_interval,
    paired_difference,
    pass_at_k,
)
from tests.test_suite import BASE, make_project


def test_wilson_interval_matches_known_value() -> None:
    # 8 of 10: Wilson 95% interval is [0.490, 0.943]
    estimate = mean_interval([1.0] * 8 + [0.0] * 2)
    assert estimate.method == "wilson"
    assert estimate.low == pytest.approx(0.4902, abs=1e-3)
    assert estimate.high == pytest.approx(0.9433, abs=1e-3)


def test_mcnemar_exact_on_a_known_table() -> None:
    # discordant pairs: b wins 9, a wins 1 -> exact two-sided p = 2 * P(X <= 1 | n=10) = 0.02148
    a = [0.0] * 9 + [1.0] + [1.0] * 20
    b = [1.0] * 9 + [0.0] + [1.0] * 20
    result = paired_difference(a, b)
    assert result.method == "mcnemar-exact"
    assert result.p_value == pytest.approx(0.021484375)
    assert result.mean == pytest.approx(8 / 30)


def test_holm_adjustment() -> None:
    assert holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])


def test_bounded_scores_use_bootstrap() -> None:
    rng = np.random.default_rng(0)
    a = rng.random(50)
    result = paired_difference(a.tolist(), (a + 0.2).clip(0, 1).tolist())
    assert result.method == "paired-bootstrap"
    assert result.low > 0 and result.p_value < 0.01


def test_compare_finds_flipped_rows(tmp_path: Path) -> None:
    register_mock("cmp", lambda r: "pos" if "Label it now" in r.messages[0].content else "neg")
    suite = make_project(tmp_path, BASE.replace("mock/echo", "mock/cmp"))
    frame = load_run(evaluate(suite, prompts=["cls@v1", "cls@v2"]).run_id)
    result = compare_variants(
        frame, "cls@v1 | mock/cmp | k=0", frame, "cls@v2 | mock/cmp | k=0", ["label_accuracy"]
    )
    metric = result.metrics[0]
    assert result.rows == 6
    assert metric.a_mean == 0.5 and metric.b_mean == 0.5
    assert sorted(metric.fixed) == ["r1", "r3", "r5"]
    assert sorted(metric.broken) == ["r0", "r2", "r4"]


def _exact_mcnemar_p(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value, summed by hand from the binomial(b + c, 1/2)."""
    n, low = b + c, min(b, c)
    tail = sum(math.comb(n, i) for i in range(low + 1)) / 2**n
    return min(1.0, 2 * tail)


def test_mcnemar_on_agresti_presidential_approval_table() -> None:
    # Agresti, An Introduction to Categorical Data Analysis, table 8.1: 1600 people asked
    # twice; 794 approve both times, 150 approve then disapprove, 86 the reverse, 570 never.
    first = [1.0] * 794 + [1.0] * 150 + [0.0] * 86 + [0.0] * 570
    second = [1.0] * 794 + [0.0] * 150 + [1.0] * 86 + [0.0] * 570
    result = paired_difference(first, second)
    assert result.method == "mcnemar-exact"
    assert result.mean == pytest.approx(-0.04)  # 880/1600 - 944/1600
    assert result.p_value == pytest.approx(_exact_mcnemar_p(150, 86), rel=1e-9)
    assert result.p_value < 1e-4  # the book: z = -4.17
    # The book's Wald interval for the difference is -0.04 +/- 1.96 * 0.0095.
    assert result.low == pytest.approx(-0.059, abs=0.003)
    assert result.high == pytest.approx(-0.021, abs=0.003)


def _band(reps: int, level: float = 0.95) -> tuple[float, float]:
    """Where the observed coverage of ``reps`` intervals falls 99.7% of the time."""
    sd = math.sqrt(level * (1 - level) / reps)
    return level - 3 * sd, level + 3 * sd


def test_wilson_interval_covers_the_true_rate_95_percent_of_the_time() -> None:
    # Wilson's exact coverage at n=100, p=0.4 is 0.948 (it oscillates with n and p).
    rng, true, reps = np.random.default_rng(2024), 0.4, 400
    hits = 0
    for _ in range(reps):
        estimate = mean_interval((rng.random(100) < true).astype(float).tolist())
        hits += estimate.low <= true <= estimate.high
    low, high = _band(reps)
    assert low <= hits / reps <= high


def test_bootstrap_interval_covers_a_bounded_mean_95_percent_of_the_time() -> None:
    rng, reps = np.random.default_rng(7), 400
    true = 2 / 7  # mean of Beta(2, 5): graded scores in [0, 1]
    hits = 0
    for i in range(reps):
        estimate = mean_interval(rng.beta(2, 5, size=80).tolist(), seed=i)
        assert estimate.method == "bootstrap"
        hits += estimate.low <= true <= estimate.high
    low, high = _band(reps)
    assert low <= hits / reps <= high


def test_cluster_interval_accounts_for_repeats_where_a_naive_one_does_not() -> None:
    # 60 rows x 5 repeats; each row has its own pass rate, so repeats are correlated.
    rng, reps, rows, repeats = np.random.default_rng(11), 400, 60, 5
    true = 0.5  # mean of the rows' Beta(0.5, 0.5) pass rates
    clustered = naive = 0
    row_ids = [r for r in range(rows) for _ in range(repeats)]
    for i in range(reps):
        rates = rng.beta(0.5, 0.5, size=rows)
        samples = (rng.random((rows, repeats)) < rates[:, None]).astype(float).ravel().tolist()
        estimate = cluster_interval(samples, row_ids, seed=i)
        clustered += estimate.low <= true <= estimate.high
        flat = mean_interval(samples)  # pretends 300 independent draws
        naive += flat.low <= true <= flat.high
    assert estimate.n == rows and estimate.method == "cluster-bootstrap"
    low, high = _band(reps)
    assert low <= clustered / reps <= high
    assert naive / reps < low  # too narrow: it ignores that a row's repeats agree


def test_cluster_interval_without_repeats_is_the_plain_interval() -> None:
    values = [1.0] * 8 + [0.0] * 2
    assert cluster_interval(values, list(range(10))) == mean_interval(values)
    both = cluster_interval([1.0, 1.0, 0.0, 0.0], ["a", "a", "b", "b"])
    assert both.n == 2 and both.method == "cluster-wilson"


def test_pass_at_k_known_values() -> None:
    assert pass_at_k(5, 1, 1) == pytest.approx(0.2)
    assert pass_at_k(5, 1, 5) == 1.0
    assert pass_at_k(5, 0, 3) == 0.0
    assert pass_at_k(10, 3, 2) == pytest.approx(1 - 21 / 45)  # 1 - C(7,2)/C(10,2)
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 4)


def test_macro_f1_matches_a_hand_computed_table() -> None:
    # classes 0, 1, 2; label 3 means "no label read"
    truth = [0, 0, 0, 1, 1, 2]
    pred = [0, 0, 1, 1, 3, 2]
    # F1: class 0 = 2*2/(2+3) = 0.8; class 1 = 2*1/(2+2) = 0.5; class 2 = 2*1/(1+1) = 1.0
    estimate = macro_f1_interval(truth, pred, n_classes=3)
    assert estimate.mean == pytest.approx((0.8 + 0.5 + 1.0) / 3)
    assert 0.0 <= estimate.low <= estimate.mean <= estimate.high <= 1.0
    assert macro_f1_interval([], [], n_classes=2).n == 0


@pytest.mark.parametrize(
    ("k", "n"), [(0, 1), (1, 1), (0, 12), (3, 12), (12, 12), (37, 48), (501, 1000)]
)
def test_wilson_closed_form_matches_scipy(k: int, n: int) -> None:
    from scipy.stats import binomtest

    from promptkit.results.stats import wilson_interval

    expected = binomtest(k, n).proportion_ci(0.95, method="wilson")
    low, high = wilson_interval(k, n)
    assert low == pytest.approx(expected.low, abs=1e-12)
    assert high == pytest.approx(expected.high, abs=1e-12)
