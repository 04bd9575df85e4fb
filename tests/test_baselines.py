"""The trivial answers of a label task: majority class and chance, figures checked by hand,
ties, the paired test against the majority, and every output that shows them."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from promptkit import ProviderError, Request, evaluate, load_run, register_mock
from promptkit.cli.run_report import print_summaries
from promptkit.report.html import html_report
from promptkit.results.baselines import label_baseline, versus_majority
from promptkit.results.summary import VariantSummary, summarize
from tests.conftest import write

# Wilson 95% intervals worked out from the formula (z = 1.959964):
# 3 of 5: centre (0.6 + z²/10) / (1 + z²/5) = 0.5566, half-width 0.3258
WILSON_3_OF_5 = (0.2307, 0.8824)
WILSON_8_OF_20 = (0.2188, 0.6134)
WILSON_18_OF_30 = (0.4232, 0.7541)


def test_majority_and_chance_rates_by_hand() -> None:
    b = label_baseline({"r1": "a", "r2": "A ", "r3": "b", "r4": "c", "r5": "a"})
    assert b is not None
    assert b.labels == ("a", "b", "c")  # 'A ' folds into 'a', as label_accuracy reads it
    assert b.majority == ("a",) and not b.tied
    assert (b.majority_rows, b.rows, b.unlabelled) == (3, 5, 0)
    assert b.rate.mean == pytest.approx(0.6) and b.rate.method == "wilson"
    assert (b.rate.low, b.rate.high) == pytest.approx(WILSON_3_OF_5, abs=1e-4)
    assert b.chance == pytest.approx(1 / 3)
    assert b.majority_text() == "always 'a'"
    assert b.chance_text() == "1 of 3 labels, exact"


def test_tied_majority_names_every_label_and_tests_against_the_hardest() -> None:
    refs = {f"r{i:02d}": "a" if i < 8 else "b" if i < 16 else "c" for i in range(20)}
    b = label_baseline(refs)
    assert b is not None
    assert b.majority == ("a", "b") and b.tied and b.majority_rows == 8
    assert b.rate.mean == pytest.approx(0.4)
    assert (b.rate.low, b.rate.high) == pytest.approx(WILSON_8_OF_20, abs=1e-4)
    assert b.majority_text() == "always 'a' or 'b' (tied, 8 rows each)"
    # Right on every 'a' and 'c' row, wrong on every 'b' row: 12 of 20. Against 'a' it
    # wins 4 rows and loses none (p = 2 * 0.5**4); against 'b' it wins 12 and loses 8.
    scores = {r: float(label != "b") for r, label in refs.items()}
    versus = versus_majority(scores, refs, b)
    assert versus.label == "b"  # the less favourable of the two tied labels
    assert versus.difference.mean == pytest.approx(0.6 - 0.4)
    two_sided = 2 * sum(math.comb(20, k) for k in range(12, 21)) / 2**20
    assert versus.difference.p_value == pytest.approx(two_sided)  # 0.503
    assert not versus.significant
    assert versus.text() == "no +0.200 p=0.5"


def test_a_clear_win_over_the_majority_is_significant() -> None:
    refs = {f"r{i:02d}": "a" if i < 24 else "b" for i in range(40)}
    b = label_baseline(refs)
    assert b is not None and b.rate.mean == pytest.approx(0.6)
    versus = versus_majority({r: 1.0 for r in refs}, refs, b)  # right on all 16 'b' rows too
    assert versus.difference.mean == pytest.approx(0.4)
    assert versus.difference.p_value == pytest.approx(2 * 0.5**16)  # exact McNemar
    assert versus.significant and versus.text() == "yes +0.400 p=3.1e-05"
    at_majority = versus_majority({r: float(refs[r] == "a") for r in refs}, refs, b)
    assert at_majority.difference.mean == 0 and not at_majority.significant


def test_rows_without_a_reference_are_left_out() -> None:
    b = label_baseline({"r1": None, "r2": float("nan"), "r3": "x", "r4": "y", "r5": "x"})
    assert b is not None
    assert (b.rows, b.unlabelled, b.majority, b.majority_rows) == (3, 2, ("x",), 2)
    # the paired test skips them as well: two rows of 'x', one of 'y'
    versus = versus_majority({"r1": 1.0, "r3": 1.0, "r4": 0.0, "r5": 1.0}, {"r1": None}, b)
    assert versus.difference.n == 0
    assert label_baseline({"r1": None}) is None and label_baseline({}) is None


# -- a run: summaries, terminal, Markdown, HTML ------------------------------------------

PROMPT = """---
inputs: [text]
parser: {{type: label, labels: [a, b, c]}}
---
{{% message "user" %}}{prefix}{{{{ text }}}}{{% endmessage %}}
"""
SUITE = """\
dataset: {{path: ../datasets/rows.jsonl, id: id}}
inputs: [text]
reference: label
prompts: [cls@v1, cls@v2]
models: [mock/trivial]
scorers: [{scorers}]
"""
LABELS = ["a"] * 18 + ["b"] * 9 + ["c"] * 3  # majority 'a': 18 of 30


def answer(request: Request) -> str:
    """v1 reads the label at the end of its row; v2 always says 'a' (the majority)."""
    text = request.messages[-1].content
    return "a" if text.startswith("Lazy:") else text.split()[-1]


def project(root: Path, scorers: str) -> Path:
    register_mock("trivial", answer)
    write(root / "prompts" / "cls" / "v1.jinja", PROMPT.format(prefix=""))
    write(root / "prompts" / "cls" / "v2.jinja", PROMPT.format(prefix="Lazy: "))
    rows = "".join(
        f'{{"id": "r{i:02d}", "text": "row {i} is {label}", "label": "{label}"}}\n'
        for i, label in enumerate(LABELS)
    )
    write(root / "datasets" / "rows.jsonl", rows)
    return write(root / "evals" / "s.yaml", SUITE.format(scorers=scorers))


@pytest.fixture
def label_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[VariantSummary]:
    suite = project(tmp_path, "label_accuracy, exact_match")
    monkeypatch.chdir(tmp_path)
    result = evaluate(suite)
    return list(result.summaries)


def test_summaries_carry_the_runs_baseline_and_each_variant_against_it(
    label_run: list[VariantSummary],
) -> None:
    reader, lazy = label_run
    assert reader.label_baseline == lazy.label_baseline
    b = reader.label_baseline
    assert b is not None and b.majority == ("a",) and b.rows == 30
    assert (b.rate.low, b.rate.high) == pytest.approx(WILSON_18_OF_30, abs=1e-4)
    assert reader.versus_majority is not None and lazy.versus_majority is not None
    # the reader is right on 12 rows the majority answer gets wrong: p = 2 * 0.5**12
    assert reader.versus_majority.difference.p_value == pytest.approx(2 * 0.5**12)
    assert reader.versus_majority.significant
    assert lazy.versus_majority.difference.mean == 0 and not lazy.versus_majority.significant


def test_terminal_table_shows_the_trivial_answers(label_run: list[VariantSummary]) -> None:
    console = Console(record=True, width=250)
    print_summaries(console, label_run, per_class=False)
    out = console.export_text()
    assert "beats majority" in out and "Trivial answers on the 30 evaluation rows" in out
    lines = out.splitlines()
    majority = next(line for line in lines if "│ majority class" in line)
    assert "always 'a'" in majority and "0.600 [0.423, 0.754]" in majority
    chance = next(line for line in lines if "│ uniform chance" in line)
    assert "1 of 3 labels, exact" in chance and "0.333" in chance
    assert any("cls@v1" in line and "yes +0.400 p=0.00049" in line for line in lines)
    assert any("cls@v2" in line and "no +0.000 p=1" in line for line in lines)


def test_markdown_and_html_show_the_trivial_answers(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite = project(tmp_path, "label_accuracy")
    monkeypatch.chdir(tmp_path)
    code, _, err = cli("eval", str(suite), "-q", "--markdown", "s.md", "--html", "s.html")
    assert code == 0, err
    markdown = (tmp_path / "s.md").read_text("utf-8")
    assert "| variant | rows | label_accuracy | beats majority | errors |" in markdown
    assert "| _majority class_: always `a` | 30 | 0.600 [0.423, 0.754] | - |" in markdown
    assert "| _uniform chance_: 1 of 3 labels, exact | 30 | 0.333 | - |" in markdown
    assert "| 0.600 [0.423, 0.754] | no +0.000 p=1 |" in markdown  # the lazy prompt
    page = (tmp_path / "s.html").read_text("utf-8")
    table = page.split('id="baseline-table"')[1].split("</table>")[0]
    assert "always &#39;a&#39;" in table and "0.600 [0.423, 0.754]" in table
    assert "1 of 3 labels, exact" in table and "0.333" in table
    summary = page.split('id="summary-table"')[1].split("</table>")[0]
    assert "beats majority" in summary and "yes +0.400 p=0.00049" in summary


def test_a_task_without_label_scoring_shows_no_baseline(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite = project(tmp_path, "exact_match")
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("eval", str(suite), "--markdown", "s.md", "--html", "s.html")
    assert code == 0, err
    summaries = summarize(load_run(), ["exact_match"])
    assert all(s.label_baseline is None and s.versus_majority is None for s in summaries)
    assert "exact_match" in out
    for text in (out, (tmp_path / "s.md").read_text("utf-8"), html_report()):
        assert "majority" not in text and "uniform chance" not in text


def test_advise_without_a_target_when_the_best_does_not_beat_the_majority(
    tmp_path: Path, cli: Any
) -> None:
    """The best variant (v1) is right on every row it answered but errs on most, so it
    does not beat the majority; v2 beats it but is worse: advise must still decide."""
    labels = ["a"] * 20 + ["b"] * 10 + ["c"] * 10

    def model(request: Request) -> str:
        text = request.messages[-1].content
        version, row = text.split()[0], int(text.rsplit("row", 1)[1])
        if version == "v1":
            if row < 12:
                return labels[row]
            raise ProviderError("boom", retryable=False)
        return labels[row] if row >= 6 else "b"

    register_mock("split", model)
    for version in ("v1", "v2"):
        write(
            tmp_path / "prompts" / "cls" / f"{version}.jinja",
            "---\nparser: {type: label, labels: [a, b, c]}\n---\n"
            f'{{% message "user" %}}{version} {{{{ text }}}}{{% endmessage %}}',
        )
    rows = "".join(
        f'{{"id": "r{i}", "text": "row{i}", "label": "{label}"}}\n'
        for i, label in enumerate(labels)
    )
    write(tmp_path / "datasets" / "rows.jsonl", rows)
    suite = write(
        tmp_path / "evals" / "cls.yaml",
        "dataset: {path: ../datasets/rows.jsonl, id: id}\ninputs: [text]\nreference: label\n"
        "prompts: [cls@v1, cls@v2]\nmodels: [mock/split]\nscorers: [label_accuracy]\n",
    )
    assert cli("eval", str(suite), "--no-cache", "--allow-errors")[0] == 0
    code, out, err = cli("advise")
    assert code == 0, err
    assert "is not significantly better than the majority class" in " ".join(out.split())
