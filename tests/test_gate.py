"""Base-versus-head evaluation and the CI gate, in a real temporary git repository.

The scripted model makes every outcome known in advance (see tests/gitrepo.py),
so the exit codes and figures below are exact.
"""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from promptkit import load_run
from promptkit.ci.baseline import load_outcome
from promptkit.results.stats import holm
from tests.conftest import needs_local_model, write
from tests.gitrepo import BETTER, V1, WORSE, commit_all, git, make_repo


def _run(root: Path, out: str) -> Path:
    """The folder of the run an ``eval`` printed (ids made in one second sort randomly)."""
    match = re.search(r"^run (\S+): ", out, re.MULTILINE)
    assert match, out
    return root / ".promptkit" / "runs" / match.group(1)


def _error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


def test_worse_version_fails_the_gate_better_one_passes(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_repo(tmp_path, monkeypatch)
    base = git(tmp_path, "rev-parse", "--short=7", "HEAD")
    code, out, _ = cli("eval", "evals/s.yaml", "--quiet")
    assert code == 0
    assert "0.833" in out  # v1: 25 of 30

    write(tmp_path / "prompts" / "cls" / "v2.jinja", WORSE)
    code, out, err = cli("eval", "evals/s.yaml", "--quiet", "--baseline", "main", "--gate")
    assert code == 1
    line = _error_line(err)
    assert line.startswith("promptkit: error: gate failed: max_regression label_accuracy 0.02")
    assert f"0.500 vs 0.833 for cls@v1 (base {base}) | mock/scripted | k=0" in line
    assert "difference -0.333 [" in line and "on 30 rows, lower bound < -0.02" in line
    # the rule's own resolution, and the warning that its margin is finer than 30 rows resolve
    assert "with 30 rows this gate resolves a margin of >= 0.38 with 80% power" in line
    assert "warning: the margin 0.02 is finer than these rows resolve" in line
    assert f"cls@v1 (base {base})" in out  # the base version ran beside head's
    assert "FAIL" in out and "PASS" in out  # the gate table: max_regression failed, min held

    write(tmp_path / "prompts" / "cls" / "v2.jinja", BETTER)
    code, out, err = cli("eval", "evals/s.yaml", "--quiet", "--baseline", "main", "--gate")
    assert code == 0, err
    assert "gate passed" in out
    gate = json.loads((_run(tmp_path, out) / "gate.json").read_text())
    assert gate["passed"] is True
    regression = next(r for r in gate["rules"] if r["rule"].startswith("max_regression"))
    assert "difference +0.167 [" in regression["figures"]
    assert "this gate resolves" in regression["figures"] and "warning" not in regression["figures"]


def test_min_threshold_from_the_command_line(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_repo(tmp_path, monkeypatch)
    code, _, err = cli("eval", "evals/s.yaml", "--quiet", "--min", "label_accuracy=0.9")
    assert code == 1  # a rule flag implies --gate
    assert "min label_accuracy 0.9: cls@v1 | mock/scripted | k=0" in err
    assert "label_accuracy 0.833 [0.664, 0.927] (mean < 0.9)" in err
    code, _, _ = cli("eval", "evals/s.yaml", "--quiet", "--min", "label_accuracy=0.8")
    assert code == 0


def test_without_a_baseline_the_regression_rule_is_skipped_not_passed(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_repo(tmp_path, monkeypatch)
    code, out, _ = cli("eval", "evals/s.yaml", "--quiet", "--gate")
    assert code == 0
    assert "SKIP" in out and "no baseline" in out


def test_baseline_reads_the_old_file_from_git_not_the_working_tree(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_repo(tmp_path, monkeypatch)
    v1 = tmp_path / "prompts" / "cls" / "v1.jinja"
    v1.write_text(WORSE)  # a bad commit that edits v1 in place...
    commit_all(tmp_path, "edit v1 in place")
    old = git(tmp_path, "rev-parse", "--short=7", "HEAD~1")
    v1.write_text(BETTER)  # ...and a working tree that changed it again
    code, out, err = cli("eval", "evals/s.yaml", "--quiet", "--baseline", "HEAD~1")
    assert code == 0, err
    run = _run(tmp_path, out)
    frame = load_run(run)
    base = frame[frame["prompt"] == f"cls@v1 (base {old})"]
    head = frame[frame["prompt"] == "cls@v1"]
    assert len(base) == len(head) == 30
    assert base["score.label_accuracy"].mean() == pytest.approx(25 / 30)  # V1 from git
    assert head["score.label_accuracy"].mean() == 1.0  # BETTER from the working tree
    sources = sorted(p.read_text() for p in (run / "prompts" / "cls").iterdir())
    assert sources == sorted([V1, BETTER])  # both kept, neither overwrote the other
    link = json.loads((run / "baseline.json").read_text())
    assert link["pairs"][0]["note"] == "changed in place since base"
    assert "HEAD~1 at" in out


def test_unchanged_prompts_are_not_run_again(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite = make_repo(tmp_path, monkeypatch)
    suite.write_text(suite.read_text().replace("prompts: [cls]", "prompts: [cls@v1, cls@v2]"))
    write(tmp_path / "prompts" / "cls" / "v2.jinja", BETTER)
    code, out, err = cli("eval", "evals/s.yaml", "--quiet", "--baseline", "main", "--gate")
    assert code == 0, err
    frame = load_run(_run(tmp_path, out))
    # v1 is the same at main: its rows serve as v2's baseline; nothing else was called.
    assert sorted(frame["prompt"].unique()) == ["cls@v1", "cls@v2"]
    assert len(frame) == 60
    pairs = json.loads((_run(tmp_path, out) / "baseline.json").read_text())["pairs"]
    assert pairs[0] == {
        "head": "cls@v1 | mock/scripted | k=0",
        "base": "cls@v1 | mock/scripted | k=0",
        "note": "unchanged since base",
    }
    assert pairs[1]["base"] == "cls@v1 | mock/scripted | k=0"
    assert pairs[1]["note"] == "new version; base is cls@v1"


def test_new_family_has_no_baseline(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite = make_repo(tmp_path, monkeypatch)
    write(tmp_path / "prompts" / "fresh" / "v1.jinja", V1)
    suite.write_text(suite.read_text().replace("prompts: [cls]", "prompts: [fresh]"))
    code, out, _ = cli("eval", "evals/s.yaml", "--quiet", "--baseline", "main", "--gate")
    assert code == 0
    assert "new prompt family: no baseline" in out


def test_baseline_run_and_committed_baseline_file(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_repo(tmp_path, monkeypatch)
    code, out, _ = cli("eval", "evals/s.yaml", "--quiet", "--save-baseline", "evals/base.json")
    assert code == 0
    first = _run(tmp_path, out).name
    saved = json.loads((tmp_path / "evals" / "base.json").read_text())
    assert saved["format"] == "promptkit-baseline/1"
    assert len(saved["variants"][0]["rows"]) == 30

    write(tmp_path / "prompts" / "cls" / "v2.jinja", WORSE)
    code, _, err = cli("eval", "evals/s.yaml", "--quiet", "--baseline-run", first, "--gate")
    assert code == 1
    assert "0.500 vs 0.833 for cls@v1 | mock/scripted | k=0" in err
    code, _, err = cli(
        "eval", "evals/s.yaml", "--quiet", "--baseline-run", "evals/base.json", "--gate"
    )
    assert code == 1
    assert "difference -0.333" in err

    write(tmp_path / "prompts" / "cls" / "v2.jinja", BETTER)
    code, out, err = cli(
        "eval", "evals/s.yaml", "--quiet", "--baseline-run", "evals/base.json", "--gate"
    )
    assert code == 0, err
    assert len(load_run(_run(tmp_path, out))) == 30  # only head ran


def test_bad_gate_input_exits_2(cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    suite = make_repo(tmp_path, monkeypatch)
    code, _, err = cli("eval", "evals/s.yaml", "--quiet", "--min", "accuracy=0.8")
    assert code == 2
    assert "gate 'min' names unknown metric 'accuracy' (metrics: label_accuracy)" in err
    code, _, err = cli("eval", "evals/s.yaml", "--baseline", "nosuchbranch")
    assert code == 2
    assert "unknown git ref 'nosuchbranch'" in _error_line(err)
    suite.write_text(suite.read_text().replace("max_regression: 0.02", "max_regresion: 0.02"))
    code, _, err = cli("eval", "evals/s.yaml", "--quiet")
    assert code == 2
    assert f"{Path('evals/s.yaml')}:17: unknown gate key 'max_regresion'" in _error_line(err)
    suite.write_text(suite.read_text().split("gate:")[0])
    code, _, err = cli("eval", "evals/s.yaml", "--quiet", "--gate")
    assert code == 2
    assert "the gate has no rules to judge" in _error_line(err)


def test_junit_has_a_testcase_per_row_and_variant(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_repo(tmp_path, monkeypatch)
    write(tmp_path / "prompts" / "cls" / "v2.jinja", WORSE)
    code, _, _ = cli(
        "eval", "evals/s.yaml", "-q", "--baseline", "main", "--gate", "--junit", "out/j.xml"
    )
    assert code == 1
    root = ET.parse(tmp_path / "out" / "j.xml").getroot()
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["cls@v2 | mock/scripted | k=0", "promptkit gate"]
    rows = suites[0].findall("testcase")
    assert len(rows) == 30 and suites[0].get("tests") == "30"
    failed = {c.get("name"): c.find("failure") for c in rows if c.find("failure") is not None}
    assert sorted(failed, key=lambda n: int(n[1:])) == [f"r{i}" for i in range(0, 30, 2)]
    failure = failed["r4"]
    assert failure is not None and failure.get("message") == "label_accuracy=0"
    assert "expected: neg" in (failure.text or "") and "output: pos" in (failure.text or "")
    gate_cases = {c.get("name"): c for c in suites[1].findall("testcase")}
    regression = gate_cases["max_regression label_accuracy 0.02: cls@v2 | mock/scripted | k=0"]
    assert regression.find("failure") is not None
    assert root.get("failures") == "16"  # 15 rows + 1 rule


def test_github_step_summary_is_appended(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_repo(tmp_path, monkeypatch)
    summary = tmp_path / "out" / "step.md"
    write(summary, "earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code, _, _ = cli("eval", "evals/s.yaml", "--quiet", "--gate")
    assert code == 0
    text = summary.read_text()
    assert text.startswith("earlier step\n## promptkit · s — ✅ gate passed")


@pytest.mark.slow
@needs_local_model
def test_base_versions_on_the_real_model_answer_as_main_did(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, repo: Path
) -> None:
    """The base variant sends main's exact requests, so at temperature 0 it gets main's
    answers: what makes a shared response cache answer it without a model call."""
    make_repo(tmp_path, monkeypatch)
    shutil.copy(repo / "datasets" / "sentiment.jsonl", tmp_path / "datasets")
    write(
        tmp_path / "prompts" / "sentiment" / "v1.jinja",
        (repo / "prompts" / "sentiment" / "v1.jinja").read_text(),
    )
    write(
        tmp_path / "evals" / "real.yaml",
        "dataset: {path: ../datasets/sentiment.jsonl, id: id}\ninputs: [text]\n"
        "reference: label\nprompts: [sentiment]\nmodels: [local/smollm2]\n"
        "scorers: [label_accuracy]\nlimit: 4\n",
    )
    commit_all(tmp_path, "sentiment@v1")
    code, out, _ = cli("eval", "evals/real.yaml", "--quiet")
    assert code == 0
    main_frame = load_run(_run(tmp_path, out))

    v2 = (repo / "prompts" / "sentiment" / "v2.jinja").read_text()
    write(tmp_path / "prompts" / "sentiment" / "v2.jinja", v2)
    code, out, err = cli("eval", "evals/real.yaml", "--quiet", "--baseline", "main")
    assert code == 0, err
    frame = load_run(_run(tmp_path, out))
    base = frame[frame["prompt"].str.startswith("sentiment@v1 (base ")]
    head = frame[frame["prompt"] == "sentiment@v2"]
    assert len(base) == len(head) == 4
    assert base.set_index("row_id")["output"].to_dict() == (
        main_frame.set_index("row_id")["output"].to_dict()
    )
    assert base["prompt_hash"].unique().tolist() == main_frame["prompt_hash"].unique().tolist()


def test_baseline_p_values_are_one_holm_family_stated_in_the_output(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two head variants (two models) against their bases: the table and pr.md adjust over
    both comparisons, as ``compare`` does, and say so."""
    suite = make_repo(tmp_path, monkeypatch)
    suite.write_text(
        suite.read_text().replace("scorers:", "  - {name: mock/other, default: pos}\nscorers:")
    )
    commit_all(tmp_path, "two models")
    write(tmp_path / "prompts" / "cls" / "v2.jinja", WORSE)
    code, out, err = cli(
        "eval", "evals/s.yaml", "-q", "--baseline", "main", "--markdown", "out/pr.md"
    )
    assert code == 0, err
    pairs = [p.comparison for p in load_outcome(_run(tmp_path, out)).pairs if p.comparison]
    assert len(pairs) == 2
    raw = [m.difference.p_value for c in pairs for m in c.metrics]
    assert [m.p_holm for c in pairs for m in c.metrics] == pytest.approx(holm(raw))
    assert raw[0] < 0.5 and pairs[0].metrics[0].p_holm == pytest.approx(2 * raw[0])
    note = "p (Holm): adjusted over the 2 comparison(s) shown (every variant pair and metric)"
    assert note in " ".join(out.split()), out
    assert note in (tmp_path / "out" / "pr.md").read_text()
