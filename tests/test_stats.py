from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from promptkit import evaluate, load_run, register_mock
from promptkit.compare import compare_variants
from promptkit.stats import holm, mean_interval, paired_difference
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
