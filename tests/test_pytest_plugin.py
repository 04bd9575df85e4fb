"""The pytest plugin, run by pytest itself (``pytester``) on a small mock-model project.

The scripted model answers ``pos`` to every row; half of the 6 rows are ``pos``, so
label accuracy is exactly 0.5: ``min 0.4`` passes, ``min 0.9`` fails.
"""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

# Imported here, before any inner run: pytester drops modules first imported inside one
# (the plugin itself is left to -p, which would warn that it cannot rewrite its asserts).
import promptkit.api  # noqa: F401
from tests.conftest import REPO

pytest_plugins = ["pytester"]

# The entry point's name is the module's, so this works whether it is installed or not.
PLUGIN = ("-p", "promptkit.pytest_plugin")

PROMPT = """---
inputs: [text]
parser: {type: label, labels: [pos, neg]}
---
{% message "user" %}Label: {{ text }}{% endmessage %}
"""
SUITE = """\
dataset: {{path: ../datasets/rows.jsonl, id: id}}
inputs: [text]
reference: label
prompts: [cls@v1]
models:
  - name: mock/scripted
    default: pos
scorers: [label_accuracy]
gate:
  min: {{label_accuracy: {minimum}}}
  max_regression: 0.02
"""
UNGATED = SUITE.format(minimum=0).split("gate:")[0]


@pytest.fixture
def project(pytester: pytest.Pytester) -> Path:
    root = pytester.path
    (root / "prompts" / "cls").mkdir(parents=True)
    (root / "prompts" / "cls" / "v1.jinja").write_text(PROMPT, "utf-8")
    rows = "".join(
        f'{{"id": "r{i}", "text": "row {i}", "label": "{"pos" if i % 2 else "neg"}"}}\n'
        for i in range(6)
    )
    (root / "datasets").mkdir()
    (root / "datasets" / "rows.jsonl").write_text(rows, "utf-8")
    (root / "evals").mkdir()
    (root / "evals" / "sentiment.yaml").write_text(SUITE.format(minimum=0.4), "utf-8")
    (root / "evals" / "strict.yaml").write_text(SUITE.format(minimum=0.9), "utf-8")
    return root


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest(*PLUGIN, *args)


def test_each_gate_rule_is_a_test(pytester: pytest.Pytester, project: Path) -> None:
    result = run(pytester, "evals/sentiment.yaml", "-v", "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "evals/sentiment.yaml::min label_accuracy 0.4 PASSED*",
            "evals/sentiment.yaml::max_regression label_accuracy 0.02 SKIPPED*",
            "*no baseline*",
        ]
    )


def test_a_failed_rule_fails_with_its_figures(pytester: pytest.Pytester, project: Path) -> None:
    result = run(pytester, "evals/strict.yaml")
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "*_ strict.yaml: min label_accuracy 0.9 _*",
            "FAIL min label_accuracy 0.9: cls@v1 | mock/scripted | k=0: "
            "label_accuracy 0.500 [[]0.188, 0.812] (mean < 0.9)",
        ]
    )
    assert "Traceback" not in result.stdout.str()
    assert "runtest" not in result.stdout.str()


def test_keyword_selects_suites(pytester: pytest.Pytester, project: Path) -> None:
    result = run(pytester, "evals", "-k", "sentiment", "-v")
    result.assert_outcomes(passed=1, skipped=1, deselected=2)
    assert "strict.yaml" not in result.stdout.str().replace("deselected", "")


def test_junit_xml_has_a_testcase_per_rule(pytester: pytest.Pytester, project: Path) -> None:
    run(pytester, "evals", "--junitxml=out.xml")
    cases = ET.parse(project / "out.xml").getroot().iter("testcase")
    outcome = {
        (case.get("classname"), case.get("name")): [child.tag for child in case] for case in cases
    }
    assert outcome == {
        ("evals.sentiment.yaml", "min label_accuracy 0.4"): [],
        ("evals.sentiment.yaml", "max_regression label_accuracy 0.02"): ["skipped"],
        ("evals.strict.yaml", "min label_accuracy 0.9"): ["failure"],
        ("evals.strict.yaml", "max_regression label_accuracy 0.02"): ["skipped"],
    }


def test_exitfirst_and_last_failed(pytester: pytest.Pytester, project: Path) -> None:
    first = run(pytester, "evals", "-x")
    assert first.ret == pytest.ExitCode.TESTS_FAILED
    again = run(pytester, "evals", "--lf", "-v")
    again.assert_outcomes(failed=1)
    again.stdout.fnmatch_lines(["evals/strict.yaml::min label_accuracy 0.9 FAILED*"])


def test_runs_share_promptkit_eval_cache(pytester: pytest.Pytester, project: Path) -> None:
    run(pytester, "evals/sentiment.yaml")
    assert (project / ".promptkit" / "cache" / "responses.sqlite").is_file()
    assert len(list((project / ".promptkit" / "runs").iterdir())) == 1


def test_model_and_limit_options(pytester: pytest.Pytester, project: Path) -> None:
    # mock/echo answers with the prompt ("Label: row N"), which is no label: accuracy 0
    result = run(
        pytester, "evals/sentiment.yaml", "--promptkit-model", "mock/echo", "--promptkit-limit", "2"
    )
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines(["FAIL min label_accuracy 0.4: cls@v1 | mock/echo | k=0: *"])


def test_a_suite_without_rules_is_one_run_item(pytester: pytest.Pytester, project: Path) -> None:
    (project / "evals" / "plain.yaml").write_text(UNGATED, "utf-8")
    result = run(pytester, "evals/plain.yaml", "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["evals/plain.yaml::run PASSED*"])


def test_a_broken_suite_is_one_line(pytester: pytest.Pytester, project: Path) -> None:
    (project / "evals" / "broken.yaml").write_text(UNGATED + "shots: many\n", "utf-8")
    result = run(pytester, "evals/broken.yaml")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*evals/broken.yaml:*shots*"])
    assert "Traceback" not in result.stdout.str()


def test_stays_out_of_the_way(pytester: pytest.Pytester, project: Path) -> None:
    (project / "evals" / "other.yaml").write_text("name: not a suite\n", "utf-8")
    (project / "ci").mkdir()
    (project / "ci" / "suite.yaml").write_text(SUITE.format(minimum=0.4), "utf-8")
    # A bare `pytest` recursing from the working folder starts no model calls.
    bare = run(pytester)
    assert bare.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    named = run(pytester, "evals", "ci", "--collect-only", "-q")
    named.stdout.fnmatch_lines(["evals/sentiment.yaml::*", "evals/strict.yaml::*"])
    assert "other.yaml" not in named.stdout.str()
    assert "ci/suite.yaml" not in named.stdout.str()


def test_the_fixture_runs_a_suite(pytester: pytest.Pytester, project: Path) -> None:
    pytester.makepyfile(
        test_custom="""
        def test_accuracy(promptkit_run):
            run = promptkit_run("evals/sentiment.yaml", limit=4)
            assert run.cases == 4
            assert run.errors == 0
            [summary] = run.summaries
            assert summary.scores["label_accuracy"].mean == 0.5
        """
    )
    run(pytester, "test_custom.py").assert_outcomes(passed=1)


def test_on_by_default_once_installed(
    pytester: pytest.Pytester, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An installed entry point loads the plugin; naming it with -p as well is harmless."""
    site = project / "site"
    info = site / "promptkit_fake-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: promptkit-fake\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[pytest11]\npromptkit.pytest_plugin = promptkit.pytest_plugin\n"
    )
    monkeypatch.setenv("PYTHONPATH", f"{REPO}:{site}")
    for args in [(), PLUGIN]:
        result = pytester.runpytest_subprocess(*args, "evals/sentiment.yaml")
        result.assert_outcomes(passed=1, skipped=1)


def test_loading_the_plugin_imports_no_promptkit_stage() -> None:
    code = (
        "import sys, promptkit.pytest_plugin;"
        "print(sorted(m for m in sys.modules if m.startswith(('promptkit.', 'yaml', 'litellm'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert done.stdout.strip() == "['promptkit.pytest_plugin']"
