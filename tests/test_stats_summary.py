"""Summary figures on runs of a scripted model: exact outputs, so exact figures."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from promptkit import Completion, Request, evaluate, load_run, register_mock
from promptkit.results.summary import NO_LABEL, classification_report
from promptkit.results.sweeps import shots_sweep
from tests.test_suite import BASE, make_project


def row_number(request: Request) -> int:
    match = re.search(r"row (\d)", request.messages[-1].content)
    assert match
    return int(match.group(1))


def truth(i: int) -> str:
    return "pos" if i % 2 else "neg"


def test_repeats_give_pass_at_k_majority_and_a_clustered_interval(tmp_path: Path) -> None:
    # Every row is right on its first sample; only rows 0 and 1 stay right on the others.
    def answer(request: Request) -> str:
        i = row_number(request)
        right = request.repeat == 0 or i < 2
        return truth(i) if right else ("neg" if truth(i) == "pos" else "pos")

    register_mock("repeats", answer)
    suite = make_project(tmp_path, BASE.replace("mock/echo", "mock/repeats") + "repeat: 3\n")
    result = evaluate(suite, prompts=["cls@v1"])
    summary = result.summaries[0]
    assert summary.repeats == 3 and summary.cases == 18
    accuracy = summary.scores["label_accuracy"]
    assert accuracy.mean == pytest.approx((2 * 1 + 4 * (1 / 3)) / 6)
    assert accuracy.n == 6 and accuracy.method == "cluster-bootstrap"
    figures = summary.repeat_scores["label_accuracy"]
    assert figures["pass@3"].mean == 1.0
    assert figures["majority"].mean == pytest.approx(2 / 6)


def test_classification_report_per_class_figures_and_confusion(tmp_path: Path) -> None:
    replies = {0: "pos", 1: "pos", 2: "pos", 3: "pos", 4: "no idea", 5: "neg"}
    register_mock("classes", lambda request: replies[row_number(request)])
    suite = make_project(tmp_path, BASE.replace("mock/echo", "mock/classes"))
    result = evaluate(suite, prompts=["cls@v1"])
    frame = load_run(result.run_id)
    report = classification_report(frame, "cls@v1 | mock/classes | k=0")
    assert report is not None
    assert report.labels == ["neg", "pos"] and report.rows == 6
    assert report.confusion == {
        "neg": {"neg": 0, "pos": 2, NO_LABEL: 1},
        "pos": {"neg": 1, "pos": 2, NO_LABEL: 0},
    }
    pos, neg = report.per_class["pos"], report.per_class["neg"]
    assert (pos.precision, pos.recall, pos.support) == (0.5, pytest.approx(2 / 3), 3)
    assert pos.f1 == pytest.approx(4 / 7)
    assert (neg.precision, neg.recall, neg.f1) == (0.0, 0.0, 0.0)
    assert report.macro_f1.mean == pytest.approx(2 / 7)
    assert report.accuracy == pytest.approx(2 / 6)
    # the summary carries the same report, so summary.json has it
    assert result.summaries[0].classification == report


def test_shots_sweep_lines_up_score_tokens_and_cost_by_k(tmp_path: Path) -> None:
    def priced(request: Request) -> Completion:
        tokens = 10 * len(request.messages)
        return Completion(text=truth(row_number(request)), prompt_tokens=tokens, cost=tokens * 1e-6)

    register_mock("priced", priced)
    suite = make_project(tmp_path, BASE.replace("mock/echo", "mock/priced"))
    summaries = evaluate(suite).summaries
    points = shots_sweep(summaries, ["label_accuracy"])
    keyed = {(p.prompt, p.shots): p for p in points}
    assert [(p.prompt, p.shots) for p in points] == [
        ("cls@v1", "0"),
        ("cls@v1", "2"),
        ("cls@v2", "0"),
        ("cls@v2", "2"),
        ("plain@v1", "0"),
    ]
    zero, two = keyed[("cls@v1", "0")], keyed[("cls@v1", "2")]
    assert zero.prompt_tokens == 20 and two.prompt_tokens == 60  # two example pairs more
    assert zero.cost_per_call == pytest.approx(20e-6) and two.cost_per_call == pytest.approx(60e-6)
    assert zero.scores["label_accuracy"].mean == 1.0
    single = [s for s in summaries if s.shots == "0"]
    assert shots_sweep(single, ["label_accuracy"]) == []  # nothing to sweep


def test_eval_prints_the_sweep_judges_and_per_class_tables(cli: Any, tmp_path: Path) -> None:
    def judge_or_answer(request: Request) -> str:
        if "grader" in request.messages[0].content:
            return "VERDICT: PASS"
        return truth(row_number(request))

    register_mock("printed", judge_or_answer)
    suite = make_project(
        tmp_path,
        BASE.replace("mock/echo", "mock/printed").replace(
            "scorers: [label_accuracy, {exact_match: {normalize: true}}]",
            "scorers:\n  - label_accuracy\n"
            "  - llm_judge: {model: mock/printed, rubric: Right label., samples: 2}\n",
        ),
    )
    code, out, _ = cli("eval", str(suite), "--quiet", "--per-class", "--prompt", "cls@v1")
    assert code == 0, out
    assert "Shots sweep" in out and "prompt tokens/call" in out
    assert "LLM judges" in out and "100%" in out
    assert "per class" in out and "macro-F1 1.000" in out and "confusion" in out
    code, out, _ = cli("eval", str(suite), "--quiet", "--prompt", "plain")
    assert code == 0 and "Shots sweep" not in out and "per class" not in out
