"""Power and sample size: the plans are checked by simulating the paired data they plan for."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binomtest

from promptkit import BadInput, Request, evaluate, load_run, register_mock
from promptkit.results.margin import margin_plan
from promptkit.results.power import (
    detectable_difference,
    mcnemar_power,
    plan_run,
    rows_needed,
    variance_split,
)
from promptkit.results.stats import paired_difference, paired_proportion_interval
from tests.conftest import CliResult
from tests.test_suite import BASE, make_project


def _mcnemar_rejections(rows: int, spread: float, delta: float, reps: int, seed: int) -> float:
    """Share of simulated paired pilots of ``rows`` rows on which the exact test rejects."""
    rng = np.random.default_rng(seed)
    cells = [0.6 - spread / 2, (spread + delta) / 2, (spread - delta) / 2, 0.4 - spread / 2]
    hits = 0
    for _ in range(reps):
        _, only_b, only_a, _ = (int(c) for c in rng.multinomial(rows, cells))
        discordant = only_b + only_a
        hits += discordant > 0 and binomtest(only_b, discordant, 0.5).pvalue < 0.05
    return hits / reps


@pytest.mark.parametrize(("spread", "delta"), [(0.10, 0.05), (0.30, 0.10), (0.06, 0.03)])
def test_planned_rows_reach_the_stated_power_on_simulated_pass_fail_data(
    spread: float, delta: float
) -> None:
    rows = rows_needed("pass/fail", spread, delta, power=0.8)
    assert rows is not None
    assert mcnemar_power(rows, spread, delta) >= 0.8 > mcnemar_power(int(rows * 0.8), spread, delta)
    # 600 simulated runs: the standard error of a rate of 0.8 is 0.016
    assert _mcnemar_rejections(rows, spread, delta, 600, seed=7) == pytest.approx(0.8, abs=0.05)
    # half the rows fall well short of it
    assert _mcnemar_rejections(rows // 2, spread, delta, 600, seed=8) < 0.7


def test_planned_rows_reach_the_stated_power_on_simulated_graded_data() -> None:
    rows = rows_needed("graded", 0.3, 0.1, power=0.8)
    assert rows is not None and 70 <= rows <= 72  # ((1.96 + 0.84) * 0.3 / 0.1) ** 2 = 70.6
    rng, reps, hits = np.random.default_rng(3), 150, 0
    for i in range(reps):
        a = rng.random(rows) * 0.5
        result = paired_difference(a.tolist(), (a + rng.normal(0.1, 0.3, rows)).tolist(), seed=i)
        assert result.method == "paired-bootstrap"
        hits += result.p_value < 0.05
    assert hits / reps == pytest.approx(0.8, abs=0.09)  # 150 runs: standard error 0.033


def _gate_passes(rows: int, spread: float, rate: float, margin: float, reps: int) -> float:
    """Share of simulated changes with no true difference that pass max_regression."""
    rng, passed = np.random.default_rng(11), 0
    cells = [rate - spread / 2, spread / 2, spread / 2, 1 - rate - spread / 2]
    for _ in range(reps):
        table = (int(c) for c in rng.multinomial(rows, cells))
        passed += paired_proportion_interval(*table)[0] >= -margin
    return passed / reps


@pytest.mark.parametrize(
    ("rows", "spread", "rate", "margin"), [(36, 0.06, 0.8, 0.05), (300, 0.1, 0.7, 0.05)]
)
def test_the_gates_resolution_matches_the_rule_on_simulated_data(
    rows: int, spread: float, rate: float, margin: float
) -> None:
    plan = margin_plan(rows, spread, rate, margin, "pass/fail")
    # 1000 simulated runs: standard error of a pass rate at most 0.016
    assert plan.pass_chance == pytest.approx(
        _gate_passes(rows, spread, rate, margin, 1000), abs=0.05
    )
    at_resolved = margin_plan(rows, spread, rate, plan.resolved, "pass/fail")
    assert (
        at_resolved.pass_chance
        >= 0.8
        > margin_plan(rows, spread, rate, plan.resolved * 0.8, "pass/fail").pass_chance
    )
    needed = plan.rows_for(margin, spread, rate, "pass/fail")
    assert needed is not None
    assert margin_plan(needed, spread, rate, margin, "pass/fail").pass_chance >= 0.8
    assert _gate_passes(needed, spread, rate, margin, 1000) == pytest.approx(0.8, abs=0.05)


def test_the_graded_resolution_is_the_normal_quantile() -> None:
    plan = margin_plan(100, 0.2, 0.5, 0.05, "graded")
    assert plan.resolved == pytest.approx((1.959964 + 0.841621) * 0.2 / 10, rel=1e-4)
    assert plan.rows_for(plan.resolved, 0.2, 0.5, "graded") == 100


def _needed(kind: str, spread: float, delta: float) -> int:
    rows = rows_needed(kind, spread, delta)
    assert rows is not None
    return rows


def _detectable(kind: str, spread: float, rows: int) -> float:
    delta = detectable_difference(kind, spread, rows)
    assert delta is not None
    return delta


def test_detectable_difference_inverts_rows_needed() -> None:
    for kind, spread in (("pass/fail", 0.12), ("graded", 0.25)):
        detectable = _detectable(kind, spread, 400)
        assert (
            _needed(kind, spread, detectable * 1.02)
            <= 400
            < _needed(kind, spread, detectable * 0.9)
        )
    # a pilot where no row disagreed plans with the fewest discordant rows a difference needs
    assert _detectable("pass/fail", 0.0, 36) == _detectable("pass/fail", 0.1, 36)
    assert detectable_difference("pass/fail", 0.0, 3) is None  # 3 rows detect nothing
    assert detectable_difference("graded", 0.0, 100) is None


def test_more_rows_detect_smaller_differences() -> None:
    figures = [_detectable("pass/fail", 0.1, n) for n in (36, 100, 400, 1600, 6400)]
    assert all(a > b for a, b in itertools.pairwise(figures))
    assert _needed("pass/fail", 0.1, 0.03) > _needed("pass/fail", 0.1, 0.06)


def test_variance_split_recovers_between_and_within_row_variance() -> None:
    rng = np.random.default_rng(5)
    means = rng.normal(0.5, 0.2, 2000)  # between-row variance 0.04
    rows = [list(m + rng.normal(0, 0.1, 4)) for m in means]  # within-row variance 0.01
    split = variance_split(rows)
    assert split is not None and split.repeats == 4
    assert split.between == pytest.approx(0.04, rel=0.1)
    assert split.within == pytest.approx(0.01, rel=0.1)
    assert split.narrowing(2.0, 1.0) == pytest.approx(2**-0.5)
    assert split.narrowing(1.0, 2.0) > 0.95  # repeats barely help when rows differ most
    assert "more rows narrow it more" in split.advice()
    noisy = variance_split([list(rng.normal(0.5, 0.3, 4)) for _ in range(2000)])
    assert noisy is not None and noisy.narrowing(1.0, 2.0) == pytest.approx(2**-0.5, abs=0.03)
    assert "about the same" in noisy.advice()
    assert variance_split([[1.0], [0.0]]) is None


def _row(request: Request) -> int:
    match = re.search(r"row (\d)", request.messages[-1].content)
    assert match
    return int(match.group(1))


def _answer(request: Request) -> str:
    """v1 is right on every row; v2 wrong on row 0; repeats of v1 disagree on row 1."""
    i = _row(request)
    truth = "pos" if i % 2 else "neg"
    wrong = "neg" if truth == "pos" else "pos"
    if "Label it now" in request.messages[0].content:
        return wrong if i == 0 else truth
    return wrong if i == 1 and request.repeat == 1 else truth


ONE_SHOT = BASE.replace("mock/echo", "mock/power").replace("shots: [0, 2]", "shots: [0]")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    register_mock("power", _answer)
    return make_project(tmp_path, ONE_SHOT)


def test_power_plans_from_two_variants_of_a_run(project: Path) -> None:
    run = evaluate(project, prompts=["cls@v1", "cls@v2"])
    plans = plan_run(load_run(run.run_id), metrics=["label_accuracy"], mde=0.05)
    assert len(plans) == 1
    plan = plans[0]
    assert plan.kind == "pass/fail" and plan.rows == 6
    assert plan.spread == pytest.approx(1 / 6)  # one row of six disagrees
    assert plan.needed == rows_needed("pass/fail", 1 / 6, 0.05)
    assert plan.detectable is not None and plan.detectable > 0.9  # six rows see almost nothing
    text = "\n".join(plan.lines())
    assert "16.7% of rows disagree on 6 rows" in text and "to detect 0.05: about" in text


def test_power_plans_between_repeats_of_one_variant(tmp_path: Path, project: Path) -> None:
    repeated = make_project(tmp_path, ONE_SHOT + "repeat: 2\n")
    run = evaluate(repeated, prompts=["cls@v1"])
    plan = plan_run(load_run(run.run_id), metrics=["label_accuracy"])[0]
    assert plan.between.startswith("repeats 0 and 1 of cls@v1")
    assert plan.spread == pytest.approx(1 / 6) and plan.split is not None
    single = evaluate(make_project(tmp_path, ONE_SHOT), prompts=["cls@v1"])
    with pytest.raises(BadInput, match="one variant without repeats"):
        plan_run(load_run(single.run_id))


def test_power_command(project: Path, cli: Callable[..., CliResult]) -> None:
    evaluate(project, prompts=["cls@v1", "cls@v2"])
    code, out, _ = cli("power", "--mde", "0.1", "--metric", "label_accuracy")
    assert code == 0, out
    assert "label_accuracy (pass/fail) between cls@v1" in out
    assert "to detect 0.1: about" in out
    code, out, _ = cli("power", "--json", "--mde", "0.1")
    assert code == 0 and {p["metric"] for p in json.loads(out)} == {"label_accuracy", "exact_match"}
    code, _, err = cli("power", "--metric", "nope")
    assert code == 2 and "no metric 'nope'" in err and "Traceback" not in err
