"""The cost-quality front: dominated variants are marked in every output and never chosen."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from promptkit import evaluate, register_mock, summarize
from promptkit.advise import advise_run
from promptkit.report.html import html_report
from promptkit.results.front import FrontPoint, dominated_by
from promptkit.results.stats import Estimate, mean_interval
from promptkit.results.store import load_run
from tests.conftest import CliResult
from tests.test_suite import BASE, make_project


def _point(name: str, spend: float, scores: list[float]) -> FrontPoint:
    rows = {f"r{i}": s for i, s in enumerate(scores)}
    return FrontPoint(name, mean_interval(scores), (spend,), rows)


def test_a_cheaper_variant_not_significantly_worse_dominates() -> None:
    dear = _point("dear", 10.0, [1.0] * 30 + [0.0] * 10)
    # 2 rows fewer of 40: the paired interval of cheap - dear reaches 0
    cheap = _point("cheap", 5.0, [1.0] * 28 + [0.0] * 12)
    assert dominated_by([dear, cheap]) == {"dear": "cheap"}


def test_a_significantly_worse_cheaper_variant_does_not_dominate() -> None:
    dear = _point("dear", 10.0, [1.0] * 30 + [0.0] * 10)
    cheap = _point("cheap", 5.0, [1.0] * 10 + [0.0] * 30)  # 20 rows lost, none won
    assert dominated_by([dear, cheap]) == {}


def test_equal_cost_dominates_nothing_and_the_best_dominator_is_named() -> None:
    a = _point("a", 5.0, [1.0] * 20 + [0.0] * 20)
    b = _point("b", 5.0, [1.0] * 40)
    assert dominated_by([a, b]) == {}  # b is better, not cheaper
    dear = _point("dear", 9.0, [1.0] * 30 + [0.0] * 10)
    cheaper = _point("cheaper", 3.0, [1.0] * 29 + [0.0] * 11)
    cheapest = _point("cheapest", 1.0, [1.0] * 28 + [0.0] * 12)
    assert dominated_by([dear, cheaper, cheapest]) == {"dear": "cheaper", "cheaper": "cheapest"}


def test_graded_scores_use_the_paired_normal_interval() -> None:
    dear = _point("dear", 2.0, [0.8] * 50)
    close = _point("close", 1.0, [0.79] * 25 + [0.81] * 24 + [0.0])  # noisy, about as good
    far = _point("far", 1.0, [0.5] * 50)  # far worse on every row
    assert dominated_by([dear, close]) == {"dear": "close"}
    assert dominated_by([dear, far]) == {}


def test_without_rows_the_variants_own_intervals_decide() -> None:
    dear = FrontPoint("dear", Estimate(0.9, 0.86, 0.93, 200, "wilson"), (2.0,))
    overlapping = FrontPoint("cheap", Estimate(0.85, 0.80, 0.89, 200, "wilson"), (1.0,))
    apart = FrontPoint("cheap", Estimate(0.70, 0.63, 0.76, 200, "wilson"), (1.0,))
    assert dominated_by([dear, overlapping]) == {"dear": "cheap"}
    assert dominated_by([dear, apart]) == {}


# -- a run: the few-shot variant sends more tokens and is no better ------------------------


@pytest.fixture
def run_id(tmp_path: Path) -> str:
    register_mock("front", lambda r: "pos" if "row 1" in r.messages[-1].content else "neg")
    suite = make_project(tmp_path, BASE.replace("mock/echo", "mock/front"))
    return evaluate(suite, prompts=["cls@v1"]).run_id


K0, K2 = "cls@v1 | mock/front | k=0", "cls@v1 | mock/front | k=2"


def test_summaries_mark_the_dearer_equal_variant(run_id: str) -> None:
    frame = load_run(run_id)
    summaries = {s.variant: s for s in summarize(frame, ["label_accuracy", "exact_match"])}
    assert summaries[K2].dominated_by == {"label_accuracy": K0, "exact_match": K0}
    assert summaries[K0].dominated_by == {}


def test_every_output_marks_the_front(run_id: str, cli: Callable[..., CliResult]) -> None:
    code, out, _ = cli("show", run_id)
    assert code == 0 and "dominated on label_accuracy by" in out
    assert "not significantly worse on label_accuracy" in out
    page = html_report(run_id)
    assert 'id="plot-front"' in page and "on the front" in page
    # On label_accuracy neither variant beats the majority class of 6 rows (4 of 6 right
    # against 3 of 6, paired p = 1), so advise keeps neither; exact_match has no such rule.
    assert advise_run(run_id).chosen is None
    advice = advise_run(run_id, metric="exact_match")
    assert advice.chosen == K0
    assert {v.figures.variant: v.dominated_by for v in advice.variants}[K2] == K0
    code, out, _ = cli("eval", "evals/s.yaml", "--prompt", "cls@v1", "--markdown", "pr.md")
    assert code == 0
    markdown = Path("pr.md").read_text("utf-8")
    assert "| dominated on label_accuracy by |" in markdown
    assert "tokens per call: every variant is free" in markdown  # mock/ costs $0


def test_a_single_variant_has_no_front(tmp_path: Path) -> None:
    register_mock("front", lambda r: "pos")
    suite = make_project(tmp_path, BASE.replace("mock/echo", "mock/front"))
    run = evaluate(suite, prompts=["plain"])
    [summary] = summarize(load_run(run.run_id), ["label_accuracy"])
    assert summary.dominated_by == {}
    page = html_report(run.run_id)
    assert 'id="plot-front"' not in page and "dominated on" not in page
