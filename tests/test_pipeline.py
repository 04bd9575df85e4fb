"""The pull-request flow as a library call: promptkit.evaluate_pr, as `promptkit eval` uses it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import promptkit
from promptkit import BadInput, GateFailed, RunOptions
from tests.conftest import write
from tests.gitrepo import WORSE, make_repo


def test_evaluate_pr_compares_with_the_base_judges_and_writes_the_ci_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_repo(tmp_path, monkeypatch)
    write(tmp_path / "prompts" / "cls" / "v2.jinja", WORSE)
    summary = tmp_path / "step-summary.md"
    pr = promptkit.evaluate_pr(
        "evals/s.yaml",
        RunOptions(concurrency=4),
        baseline="main",
        junit=tmp_path / "out" / "junit.xml",
        markdown=tmp_path / "out" / "pr.md",
        step_summary=summary,
        save_baseline=tmp_path / "out" / "baseline.json",
    )
    assert not pr.passed  # v2 (15/30) against v1 at main (25/30)
    assert pr.verdict.gate is not None
    assert [r.rule for r in pr.verdict.gate.failures] == ["max_regression label_accuracy 0.02"]
    with pytest.raises(GateFailed, match="gate failed: max_regression label_accuracy"):
        pr.raise_for_failure()
    # The link is saved beside the journal, so `show` and load_outcome see the same pairing.
    assert (pr.run.path / "baseline.json").is_file()
    assert json.loads((pr.run.path / "gate.json").read_text())["passed"] is False
    assert promptkit.load_outcome(pr.run.path).pairs == pr.verdict.outcome.pairs  # type: ignore[union-attr]
    assert pr.markdown is not None and "max_regression" in pr.markdown
    assert (tmp_path / "out" / "pr.md").read_text() == pr.markdown
    assert summary.read_text() == pr.markdown + "\n"
    assert "<testsuite" in (tmp_path / "out" / "junit.xml").read_text()
    baseline = json.loads((tmp_path / "out" / "baseline.json").read_text())
    assert [v["prompt"] for v in baseline["variants"]] == ["cls@v2"]  # head variants only


def test_a_plain_run_reads_nothing_back_and_has_no_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_repo(tmp_path, monkeypatch)
    (tmp_path / "evals" / "s.yaml").write_text(
        (tmp_path / "evals" / "s.yaml").read_text().split("gate:")[0]
    )
    pr = promptkit.evaluate_pr("evals/s.yaml")
    assert pr.verdict.outcome is None and pr.verdict.gate is None and pr.markdown is None
    assert pr.passed and pr.run.cases == 30


def test_gate_rules_given_add_to_the_suite_and_gate_true_needs_some(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_repo(tmp_path, monkeypatch)
    pr = promptkit.evaluate_pr("evals/s.yaml", gate={"min": {"label_accuracy": 0.9}})
    assert [str(r.rule) for r in pr.verdict.gate.failures] == ["min label_accuracy 0.9"]  # type: ignore[union-attr]
    suite = tmp_path / "evals" / "s.yaml"
    suite.write_text(suite.read_text().split("gate:")[0])
    with pytest.raises(BadInput, match="the gate has no rules to judge"):
        promptkit.evaluate_pr("evals/s.yaml", gate=True)


def test_library_errors_name_options_not_flags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_repo(tmp_path, monkeypatch)
    with pytest.raises(BadInput, match=r"^baseline and baseline_run exclude each other"):
        promptkit.evaluate_pr("evals/s.yaml", baseline="main", baseline_run="x")
    with pytest.raises(BadInput, match=r"^shots need a suite"):
        promptkit.render_prompt("cls@v1", shots=2, prompts_dir="prompts")


def test_run_options_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        RunOptions(10)  # type: ignore[misc]
    assert RunOptions(limit=10).limit == 10


def test_max_regression_judges_the_lower_bound_not_the_mean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Head is worse on one row of 30: its mean difference (-0.033) is within the 0.05
    # margin, but with so few rows the interval's lower bound is not, so the rule fails.
    make_repo(tmp_path, monkeypatch)
    suite = tmp_path / "evals" / "s.yaml"
    almost = (
        "      - {match: '^Almost: item (1|3|5|7|9|11|13|15|17)$', reply: pos}\n"
        "      - {match: '^Almost: ', reply: neg}\n"
    )
    text = suite.read_text().replace("    responses:\n", "    responses:\n" + almost)
    suite.write_text(text.split("gate:")[0])
    v2 = (tmp_path / "prompts" / "cls" / "v1.jinja").read_text().replace("Label:", "Almost:")
    write(tmp_path / "prompts" / "cls" / "v2.jinja", v2)
    pr = promptkit.evaluate_pr(
        "evals/s.yaml", prompts=["cls@v2"], baseline_run=_v1_run(), gate={"max_regression": 0.05}
    )
    assert pr.verdict.gate is not None
    (rule,) = pr.verdict.gate.rules
    assert "difference -0.033 [" in rule.figures and "lower bound < -0.05" in rule.figures
    assert rule.status == "fail"


def _v1_run() -> str:
    return promptkit.evaluate("evals/s.yaml", prompts=["cls@v1"]).run_id
