"""An LLM judge against human verdicts: Se/Sp, kappa, Rogan-Gladen, the gate's refusal.

Hand-computed figures check the statistics; a simulation checks the corrected pass
rate's interval; a scripted mock judge (exact verdicts on demand) runs the real
``evaluate`` path for the summary, the gate, the bad-value error and the HTML page.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from promptkit import DatasetError, Request, RunOptions, SuiteError, evaluate, load_suite
from promptkit.api import evaluate_pr
from promptkit.providers import register_mock
from promptkit.report.html import html_report
from promptkit.report.markdown import render_markdown
from promptkit.report.terminal import judge_calibration_table
from promptkit.results.calibration import calibrate, cohen_kappa, corrected_rate, rogan_gladen
from promptkit.results.summary import JudgeCalibration
from tests.conftest import write

# --- the statistics, by hand ---------------------------------------------------------


def test_kappa_of_a_textbook_table() -> None:
    """Wikipedia's Cohen's kappa example: 50 items, 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no:
    p_o = 0.7, p_e = 0.5 * 0.6 + 0.5 * 0.4 = 0.5, kappa = 0.4."""
    kappa = cohen_kappa(20, 5, 10, 15)
    assert kappa.mean == pytest.approx(0.4) and kappa.n == 50
    from sklearn.metrics import cohen_kappa_score

    judge = [1] * 25 + [0] * 25
    human = [1] * 20 + [0] * 5 + [1] * 10 + [0] * 15
    assert kappa.mean == pytest.approx(cohen_kappa_score(judge, human))


def test_kappa_interval_is_the_delta_method_one() -> None:
    """The Fleiss-Cohen-Everitt variance is the delta-method variance of kappa as a function
    of the four cell shares: check it against a numerical gradient and the multinomial
    covariance, a derivation that shares no algebra with the code."""
    cells = np.array([20, 5, 10, 15], dtype=float)
    n = cells.sum()
    p = cells / n

    def kappa_of(q: np.ndarray) -> float:
        tp, fp, fn, tn = q
        observed, chance = tp + tn, (tp + fp) * (tp + fn) + (fn + tn) * (fp + tn)
        return float((observed - chance) / (1 - chance))

    gradient = np.array(
        [(kappa_of(p + e * 1e-6) - kappa_of(p - e * 1e-6)) / 2e-6 for e in np.eye(4)]
    )
    variance = gradient @ (np.diag(p) - np.outer(p, p)) @ gradient / n
    half = 1.959964 * math.sqrt(variance)
    kappa = cohen_kappa(20, 5, 10, 15)
    assert kappa.low == pytest.approx(0.4 - half, abs=1e-5)
    assert kappa.high == pytest.approx(0.4 + half, abs=1e-5)
    assert kappa.method == "large-sample"


def test_kappa_is_undefined_when_both_sides_give_one_verdict() -> None:
    assert cohen_kappa(10, 0, 0, 0).n == 0
    assert cohen_kappa(0, 0, 0, 0).n == 0


def test_sensitivity_specificity_and_rogan_gladen_by_hand() -> None:
    """40 labelled rows (judge x human): 18 pass/pass, 4 pass/fail, 2 fail/pass, 16 fail/fail,
    and 60 rows without a human verdict, 27 of which the judge passed."""
    verdicts: list[tuple[bool, bool | None]] = (
        [(True, True)] * 18 + [(True, False)] * 4 + [(False, True)] * 2 + [(False, False)] * 16
    )
    verdicts += [(True, None)] * 27 + [(False, None)] * 33
    c = calibrate("human", verdicts)
    assert (c.true_pass, c.false_pass, c.false_fail, c.true_fail) == (18, 4, 2, 16)
    assert c.rows == 40 and c.unlabelled == 60
    assert c.confusion() == {
        "judge pass": {"human pass": 18, "human fail": 4},
        "judge fail": {"human pass": 2, "human fail": 16},
    }
    assert c.sensitivity.mean == pytest.approx(18 / 20) and c.sensitivity.n == 20
    assert c.specificity.mean == pytest.approx(16 / 20) and c.specificity.method == "wilson"
    # Wilson 18/20: centre (0.9 + 1.92/20) / (1 + 3.84/20), by the closed form
    z = 1.959964
    centre = (0.9 + z * z / 40) / (1 + z * z / 20)
    half = z * math.sqrt(0.9 * 0.1 / 20 + z * z / 1600) / (1 + z * z / 20)
    assert c.sensitivity.low == pytest.approx(centre - half, abs=1e-5)
    # judged pass rate: (18 + 4 + 27) / 100; corrected: (0.49 + 0.8 - 1) / (0.9 + 0.8 - 1)
    assert c.judged_rate.mean == pytest.approx(0.49)
    assert c.corrected_rate.mean == pytest.approx(0.29 / 0.7)
    assert c.corrected_rate.low < 0.29 / 0.7 < c.corrected_rate.high
    # kappa by hand: p_o = 34/40, p_e = (22*20 + 18*20) / 1600 = 0.5 -> 0.7
    assert c.kappa.mean == pytest.approx(0.7)


def test_rogan_gladen_clips_and_refuses_a_chance_judge() -> None:
    assert rogan_gladen(0.5, 0.9, 0.8) == pytest.approx(0.3 / 0.7)
    assert rogan_gladen(0.05, 0.9, 0.8) == 0.0  # below the false-pass floor: clipped
    assert rogan_gladen(0.99, 0.9, 0.8) == 1.0
    assert rogan_gladen(0.5, 0.5, 0.5) is None  # Se + Sp = 1: no better than a coin
    assert corrected_rate((5, 5, 5, 5)).n == 0
    assert corrected_rate((5, 0, 0, 0)).n == 0  # no human fails: no specificity


def test_all_rows_labelled_corrects_to_the_human_rate() -> None:
    """With every row labelled, Rogan-Gladen gives back the humans' own pass rate."""
    verdicts = [(True, True)] * 30 + [(True, False)] * 10 + [(False, True)] * 5
    verdicts += [(False, False)] * 55
    c = calibrate("h", verdicts)
    assert c.corrected_rate.mean == pytest.approx(0.35)
    assert c.corrected_rate.low < 0.35 < c.corrected_rate.high


def test_corrected_interval_covers_the_true_rate_where_the_raw_rate_is_biased() -> None:
    """A judge with Se 0.85 and Sp 0.9 on a true pass rate of 0.3 reports about 0.325;
    over 300 simulated runs (400 rows, 200 with a human verdict) the raw interval covers
    0.3 far less often than 95%, the corrected one about 95% of the time."""
    rng = np.random.default_rng(20261203)
    truth, runs = 0.3, 300
    corrected = raw = 0
    for _ in range(runs):
        human = rng.random(400) < truth
        judge = np.where(human, rng.random(400) < 0.85, rng.random(400) >= 0.9)
        labels = [bool(h) if i < 200 else None for i, h in enumerate(human)]
        c = calibrate("h", list(zip(judge.tolist(), labels, strict=True)))
        corrected += c.corrected_rate.low <= truth <= c.corrected_rate.high
        raw += c.judged_rate.low <= truth <= c.judged_rate.high
    assert 0.91 <= corrected / runs <= 0.99
    assert raw / runs < 0.85


# --- through a run, on a scripted judge -----------------------------------------------

ANSWER = """---
inputs: [question, answer]
---
{% message "user" %}{{ answer }}{% endmessage %}
"""


def suite_text(judge: str, extra: str = "", samples: int = 1) -> str:
    return (
        "dataset: {path: ../datasets/judged.jsonl, id: id}\n"
        "inputs: [question, answer]\n"
        "prompts: [answer]\n"
        "models: [mock/echo]\n"
        "scorers:\n"
        f"  - llm_judge: {{model: {judge}, rubric: The answer is right., samples: {samples}, "
        f"human: verdict{extra}}}\n"
    )


#: (answer, human verdict): the scripted judge passes answers containing "ok".
ROWS: list[tuple[str, Any]] = (
    [("ok", "pass")] * 6  # judge pass, human pass
    + [("ok", "fail")] * 2  # judge pass, human fail
    + [("bad", "yes")] * 1  # judge fail, human pass
    + [("bad", "no")] * 5  # judge fail, human fail
    + [("ok", "")] * 3  # no human verdict
    + [("bad", None)] * 1
)


def judged_project(root: Path, suite: str, rows: list[tuple[str, Any]] = ROWS) -> Path:
    write(root / "prompts" / "answer" / "v1.jinja", ANSWER)
    lines = [
        json.dumps({"id": f"r{i}", "question": f"q{i}", "answer": a, "verdict": v})
        for i, (a, v) in enumerate(rows)
    ]
    write(root / "datasets" / "judged.jsonl", "\n".join(lines) + "\n")
    return write(root / "evals" / "judged.yaml", suite)


def _reads_answer(name: str) -> None:
    """The judge passes when the answer it is shown is ``ok``."""

    def judge(request: Request) -> str:
        text = request.messages[-1].content
        shown = text.split("<answer>")[-1] if "<answer>" in text else text
        return "VERDICT: PASS" if "ok" in shown.split("</answer>")[0] else "VERDICT: FAIL"

    register_mock(name, judge)


def test_summary_carries_the_calibration(tmp_path: Path) -> None:
    _reads_answer("cal-judge")
    result = evaluate(judged_project(tmp_path, suite_text("mock/cal-judge")), RunOptions())
    (summary,) = result.summaries
    c = summary.judges["llm_judge"].calibration
    assert isinstance(c, JudgeCalibration)
    assert (c.true_pass, c.false_pass, c.false_fail, c.true_fail) == (6, 2, 1, 5)
    assert c.unlabelled == 4 and c.column == "verdict"
    assert c.sensitivity.mean == pytest.approx(6 / 7)
    assert c.specificity.mean == pytest.approx(5 / 7)
    assert c.judged_rate.mean == pytest.approx(11 / 18)
    expected = rogan_gladen(11 / 18, 6 / 7, 5 / 7)
    assert c.corrected_rate.mean == pytest.approx(expected)
    assert summary.to_dict()["judges"]["llm_judge"]["calibration"]["true_pass"] == 6
    table = judge_calibration_table(result.summaries)
    assert table is not None
    headers = [str(col.header) for col in table.columns]
    assert "kappa" in headers and "corrected pass" in headers


def test_bad_human_value_is_one_line_naming_column_row_and_values(tmp_path: Path) -> None:
    rows = [("ok", "pass"), ("ok", "maybe"), ("bad", "fail")]
    path = judged_project(tmp_path, suite_text("mock/cal-judge"), rows)
    with pytest.raises(DatasetError) as info:
        load_suite(path)
    text = str(info.value)
    assert "judged.jsonl:2:" in text and "'verdict'" in text and "'r1'" in text
    assert "'maybe'" in text and "pass/fail, true/false, 1/0, yes/no" in text
    assert "\n" not in text


def test_bad_human_value_exits_2_on_the_cli(tmp_path: Path, cli: Any) -> None:
    path = judged_project(tmp_path, suite_text("mock/cal-judge"), [("ok", 2), ("ok", 1)])
    code, _, err = cli("eval", str(path))
    assert code == 2 and "row 'r0' holds 2" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_human_verdict_values_and_threshold_arguments(tmp_path: Path) -> None:
    rows = [("ok", True), ("ok", 0), ("bad", "FALSE"), ("ok", "Yes"), ("bad", 1.0)]
    _reads_answer("cal-judge")
    result = evaluate(judged_project(tmp_path, suite_text("mock/cal-judge"), rows), RunOptions())
    c = result.summaries[0].judges["llm_judge"].calibration
    assert c is not None and c.rows == 5 and c.unlabelled == 0
    with pytest.raises(SuiteError, match="min_kappa needs human"):
        no_human = suite_text("mock/x").replace(", human: verdict", ", min_kappa: 0.5")
        load_suite(judged_project(tmp_path, no_human))
    with pytest.raises(SuiteError, match="min_agreement needs samples: 2"):
        load_suite(judged_project(tmp_path, suite_text("mock/x", ", min_agreement: 0.8")))
    with pytest.raises(SuiteError, match="min_kappa must be a number from 0 to 1"):
        load_suite(judged_project(tmp_path, suite_text("mock/x", ", min_kappa: 2")))
    with pytest.raises(DatasetError, match="no row has the human verdict column 'verdict'"):
        load_suite(_no_column(tmp_path))


def _no_column(tmp_path: Path) -> Path:
    path = judged_project(tmp_path, suite_text("mock/x"))
    write(tmp_path / "datasets" / "judged.jsonl", '{"id": "a", "question": "q", "answer": "ok"}\n')
    return path


def test_gate_refuses_a_judge_below_min_kappa(tmp_path: Path) -> None:
    _reads_answer("cal-judge")
    path = judged_project(tmp_path, suite_text("mock/cal-judge", ", min_kappa: 0.6"))
    pr = evaluate_pr(path, RunOptions(), junit=tmp_path / "junit.xml")
    gate = pr.verdict.gate
    assert gate is not None and not gate.passed
    (rule,) = gate.rules
    assert rule.rule == "min_kappa llm_judge 0.6" and rule.status == "fail"
    # kappa of 6/2/1/5: p_o = 11/14, p_e = (8*7 + 6*7) / 196 = 0.5 -> 0.571
    assert "llm_judge kappa 0.571 [" in rule.figures and "on 14 rows" in rule.figures
    assert "(< 0.6: the gate does not trust it)" in rule.figures
    assert "min_kappa llm_judge 0.6" in (tmp_path / "junit.xml").read_text("utf-8")
    assert pr.verdict.outcome is not None
    assert "min_kappa llm_judge 0.6" in render_markdown(pr.verdict.outcome, gate)
    passing = judged_project(tmp_path, suite_text("mock/cal-judge", ", min_kappa: 0.5"))
    assert evaluate_pr(passing, RunOptions()).verdict.passed


def test_gate_refuses_a_judge_that_disagrees_with_itself(tmp_path: Path, cli: Any) -> None:
    def flip(request: Request) -> str:
        return "VERDICT: PASS" if request.repeat % 2 == 0 else "VERDICT: FAIL"

    register_mock("cal-flip", flip)
    extra = ", min_agreement: 0.8"
    path = judged_project(tmp_path, suite_text("mock/cal-flip", extra, samples=2))
    code, out, err = cli("eval", str(path), "--gate")
    assert code == 1, err
    assert "min_agreement llm_judge 0.8" in out
    assert "agreement 0.500 between 2 samples per case" in err + out


def test_gate_fails_a_judge_without_human_rows(tmp_path: Path) -> None:
    _reads_answer("cal-judge")
    rows = [("ok", ""), ("bad", None)]
    path = judged_project(tmp_path, suite_text("mock/cal-judge", ", min_kappa: 0.6"), rows)
    (rule,) = evaluate_pr(path, RunOptions()).verdict.gate.rules  # type: ignore[union-attr]
    assert rule.status == "fail" and "no rows with a human verdict" in rule.figures


def test_html_shows_the_confusion_escaped(tmp_path: Path) -> None:
    _reads_answer("cal-judge")
    path = judged_project(tmp_path, suite_text("mock/cal-judge"))
    text = path.read_text("utf-8").replace("human: verdict", "human: '<b>verdict</b>'")
    write(path, text)
    data = (tmp_path / "datasets" / "judged.jsonl").read_text("utf-8")
    write(tmp_path / "datasets" / "judged.jsonl", data.replace('"verdict"', '"<b>verdict</b>"'))
    result = evaluate(path, RunOptions())
    page = html_report(result.path)
    assert 'id="judges"' in page
    assert "&lt;b&gt;verdict&lt;/b&gt;" in page and "<b>verdict</b>" not in page
    section = page.split('id="judges"')[1].split("</section>")[0]
    for cell in (
        'data-cell="true_pass">6<',
        'data-cell="false_pass">2<',
        'data-cell="false_fail">1<',
        'data-cell="true_fail">5<',
    ):
        assert cell in section
    assert "kappa" in section and "Rogan" in section


def test_eval_prints_the_calibration_table_and_names_the_rules(tmp_path: Path, cli: Any) -> None:
    from promptkit.ci.gate import rule_names, suite_gate

    _reads_answer("cal-judge")
    extra = ", min_kappa: 0.5, min_agreement: 0.9"
    path = judged_project(tmp_path, suite_text("mock/cal-judge", extra, samples=2))
    assert rule_names(suite_gate(load_suite(path))) == [
        "min_kappa llm_judge 0.5",
        "min_agreement llm_judge 0.9",
    ]
    code, out, err = cli("eval", str(path))
    assert code == 0, err  # without --gate the verdict is printed, not enforced
    assert "LLM judges against human verdicts" in out
    assert "14 +4 (verdict)" in out and "6/2/1/5" in out
    assert "PASS" in out and "min_kappa llm_judge 0.5" in out
