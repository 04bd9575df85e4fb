"""The HTML report, built from runs on the scripted mock model (exact, hostile outputs).

The page itself is checked in a real browser in test_report_browser.py; here the
report's figures are checked against the library's own functions and the file
against the rules for a self-contained, escaped page.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from promptkit import (
    Completion,
    ProviderError,
    Request,
    RunOptions,
    evaluate,
    html_report,
    load_run,
    load_suite,
    register_mock,
    summarize,
    write_html_report,
)
from promptkit.report import content
from promptkit.report.html import script_json
from promptkit.report.prompt_views import prompt_diffs, rendered_prompts
from promptkit.report.rows import row_table
from promptkit.results.compare import compare_variants
from promptkit.results.store import RunStore
from tests.conftest import needs_local_model, write
from tests.test_suite import PROMPT, make_project

SCRIPT = "<script>window.__pwned=1</script>"
IMG = "<img src=x onerror=window.__pwned=1>"
LABELS = ["neg", "pos", "neg", "pos", "neg", "pos"]  # row i's reference
SUITE = """\
description: Hostile outputs on purpose.
dataset: {path: ../datasets/rows.jsonl, id: id}
examples: {path: ../datasets/pool.jsonl, id: id}
inputs: [text]
reference: label
prompts: [cls@v1, cls@v2]
models: [mock/hostile]
shots: [0, 2]
scorers: [label_accuracy, exact_match]
"""
# Expected against the reference variant cls@v1 k=0 on label_accuracy:
# cls@v1 answers "pos" everywhere except row 2 (a <script> reply, no label);
# cls@v2 answers right except row 3 (an <img onerror> reply that reads "neg"),
# and its 2-shot variant fails at the provider on row 5.
FLIPPED = {"r0", "r2", "r3", "r4"}  # cls@v2 fixes r0, r2, r4 and breaks r3
DISAGREE = {"r0", "r2", "r3", "r4"}
ERRORS = {"r5"}
PWNED = {"r0", "r2", "r3"}  # r0's input text is hostile too


def hostile_model(request: Request) -> str | Completion:
    text = request.messages[-1].content
    row = int(re.search(r"row (\d)", text).group(1))  # type: ignore[union-attr]
    version2 = "Label it now." in request.messages[0].content
    shots = (len(request.messages) - 2) // 2
    if version2:
        if row == 5 and shots:
            raise ProviderError("HTTP 500: server exploded")
        reply = f"{IMG} neg" if row == 3 else LABELS[row]
    else:
        reply = SCRIPT if row == 2 else "pos"
    latency = 0.05 + 0.01 * row + 0.02 * shots
    tokens = 20 + 15 * shots
    return Completion(reply, tokens, 2, latency_s=latency, cost=tokens * 1e-6)


def make_hostile_project(root: Path) -> Path:
    write(root / "prompts" / "cls" / "v1.jinja", PROMPT)
    write(root / "prompts" / "cls" / "v2.jinja", PROMPT.replace("Label it.", "Label it now."))
    texts = [f"row {i}" for i in range(6)]
    texts[0] = f"row 0 {IMG} {SCRIPT}"
    rows = "".join(
        json.dumps({"id": f"r{i}", "text": text, "label": LABELS[i]}) + "\n"
        for i, text in enumerate(texts)
    )
    write(root / "datasets" / "rows.jsonl", rows)
    pool = "".join(
        json.dumps({"id": f"p{i}", "text": f"pool {i}", "label": LABELS[i]}) + "\n"
        for i in range(6)
    )
    write(root / "datasets" / "pool.jsonl", pool)
    return write(root / "evals" / "hostile.yaml", SUITE)


def hostile_run(root: Path) -> Path:
    """A stored run with hostile outputs and one provider error; returns its folder."""
    register_mock("hostile", hostile_model)
    return evaluate(make_hostile_project(root)).path


def large_run(root: Path, rows: int = 10_000) -> Path:
    """A run of ``rows`` rows x 2 variants, its journal written directly (fast)."""
    suite_path = make_hostile_project(root)
    suite = load_suite(suite_path).with_models(["mock/echo"])
    writer = RunStore().create(suite)
    for variant in ("cls@v1 | mock/echo | k=0", "cls@v2 | mock/echo | k=0"):
        prompt = variant.split(" ")[0]
        for i in range(rows):
            label = "pos" if i % 2 else "neg"
            answer = label if (i % 3 or prompt == "cls@v2") else "hmm"
            score = float(answer == label)
            writer.append(
                {
                    "variant": variant,
                    "prompt": prompt,
                    "model": "mock/echo",
                    "shots": 0,
                    "shot_ids": [],
                    "repeat": 0,
                    "row_id": f"row-{i:05d}",
                    "input": {"text": f"Review number {i}: the product is fine, I suppose."},
                    "expected": label,
                    "output": f"I think it is {answer}.",
                    "parsed": answer if answer != "hmm" else None,
                    "parse_error": None,
                    "scores": {"label_accuracy": score, "exact_match": 0.0},
                    "error": None,
                    "prompt_tokens": 30,
                    "completion_tokens": 6,
                    "latency_s": 0.1 + (i % 7) / 100,
                    "cost": 3.6e-5,
                }
            )
    writer.close()
    return writer.folder


def embedded_data(page: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page)
    assert match is not None
    data: dict[str, Any] = json.loads(match.group(1))
    return data


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def elements(page: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Elements()
    parser.feed(page)
    return parser.tags


@pytest.fixture
def run_folder(tmp_path: Path) -> Path:
    return hostile_run(tmp_path / "proj")


def test_hostile_text_never_becomes_markup(run_folder: Path) -> None:
    page = html_report(run_folder)
    tags = elements(page)
    assert [t for t, _ in tags].count("script") == 2  # the JSON block and the page's own script
    assert not any(tag == "img" for tag, _ in tags)
    assert not any(name.startswith("on") for _, attrs in tags for name in attrs)
    assert SCRIPT not in page and IMG not in page
    assert page.count("</script>") == 2
    # ...yet every hostile output is in the page, as data, exactly.
    outputs = {cell[0] for row in embedded_data(page)["rows"] for cell in row[3] if cell}
    assert SCRIPT in outputs and f"{IMG} neg" in outputs
    # and the dataset's hostile input shows in the rendered prompts (row r0), escaped
    escaped = "row 0 &lt;img src=x onerror=window.__pwned=1&gt; &lt;script&gt;window.__pwned"
    assert escaped in page


def test_script_json_cannot_close_its_element() -> None:
    value = {"a": "</script><!-- & -->", "nan": float("nan"), "list": [float("inf"), 1.5]}
    text = str(script_json(value))
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"a": "</script><!-- & -->", "nan": None, "list": [None, 1.5]}


def test_page_is_self_contained(run_folder: Path) -> None:
    page = html_report(run_folder)
    for tag, attrs in elements(page):
        assert attrs.get("src") is None, tag
        assert not (attrs.get("href") or "#").startswith(("http", "//")), tag
    assert "@import" not in page and not re.search(r"url\((?!#)", page)  # SVG clip paths only
    assert "default-src 'none'" in page  # the policy blocks every fetch


def test_variant_table_matches_the_summary(run_folder: Path) -> None:
    page = html_report(run_folder)
    frame = load_run(run_folder)
    summaries = summarize(frame, ["label_accuracy", "exact_match"])
    table = page.split('id="summary-table"')[1].split("</table>")[0]
    assert table.count("<tr") == 1 + len(summaries) == 5
    for s in summaries:
        est = s.scores["label_accuracy"]
        assert f"{est.mean:.3f} [{est.low:.3f}, {est.high:.3f}]" in table
    # cls@v2 k=0 is right on 5 of 6 rows by both metrics: the unique best, starred twice
    best_cells = re.findall(r'class="num score best">([^<]*)<', table)
    assert best_cells == ["0.833 [0.436, 0.970] "] * 2


def test_paired_differences_against_a_chosen_baseline(run_folder: Path) -> None:
    frame = load_run(run_folder)
    run = content.load_content(run_folder, baseline="cls@v1 | mock/hostile | k=0")
    assert run.reference_is_baseline
    v2 = next(v for v in run.variants if v.id == "cls@v2 | mock/hostile | k=0")
    diff = v2.differences["label_accuracy"]
    expected = compare_variants(
        frame, run.reference or "", frame, v2.id, ["label_accuracy"]
    ).metrics[0]
    assert (diff.mean, diff.fixed, diff.broken) == (expected.difference.mean, 3, 1)
    assert diff.p_holm >= expected.difference.p_value  # adjusted across 3 variants x 2 metrics
    page = html_report(run_folder, baseline="cls@v1 | mock/hostile | k=0")
    assert "Paired differences against cls@v1 · k=0 (the baseline)" in page


def test_unknown_baseline_names_the_variants(run_folder: Path, cli: Any) -> None:
    code, _, err = cli("report", str(run_folder), "--baseline", "cls@v9")
    assert code == 2
    assert "no variant of run" in err and "matches baseline 'cls@v9'" in err
    assert "cls@v1 | mock/hostile | k=0" in err


def test_row_table_data(run_folder: Path) -> None:
    run = content.load_content(run_folder)
    table = row_table(run)
    assert [v["label"] for v in table["variants"]] == [
        "cls@v1 · k=0",
        "cls@v1 · k=2",
        "cls@v2 · k=0",
        "cls@v2 · k=2",
    ]
    rows = {row[0]: row for row in table["rows"]}
    assert list(rows) == [f"r{i}" for i in range(6)]
    assert rows["r0"][1] == f"row 0 {IMG} {SCRIPT}"
    cell = rows["r3"][3][2]  # output, parsed, scores, error, repeats, parse error
    assert cell == [f"{IMG} neg", "neg", [0.0, 0.0], None, 1, None]
    assert rows["r2"][3][0][5].startswith("no label of")
    assert rows["r5"][3][3][3] == "HTTP 500: server exploded"
    failed = {r for r, row in rows.items() if any(c and c[3] for c in row[3])}
    assert failed == ERRORS


def test_confusion_matrix_counts(run_folder: Path) -> None:
    matrices = content.confusion_matrices(content.load_content(run_folder))
    assert [m.title for m in matrices] == [
        "cls@v1 · k=0",
        "cls@v1 · k=2",
        "cls@v2 · k=0",
        "cls@v2 · k=2",
    ]
    v1, _, v2, v2_shots = matrices
    assert v1.labels == ["pos", "neg"] and v1.answers == ["pos", "neg", "(no label)"]
    assert v1.counts == [[3, 0, 0], [2, 0, 1]]  # row 2 (neg) got a <script>, no label
    assert v2.counts == [[2, 1], [0, 3]]  # row 3 (pos) answered neg
    assert v2_shots.counts == [[1, 1], [0, 3]]  # row 5 errored: not counted


def test_prompts_render_again_with_their_examples(run_folder: Path) -> None:
    run = content.load_content(run_folder)
    views = {v.variant.label: v for v in rendered_prompts(run)}
    few = views["cls@v2 · k=2"]
    assert [m.role for m in few.messages] == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    assert few.messages[0].content == "Label it now."
    assert (
        few.messages[1].content.startswith("pool")
        and few.messages[-1].content == f"row 0 {IMG} {SCRIPT}"
    )
    assert "with its 2 examples, re-read from" in few.note
    assert views["cls@v1 · k=0"].note == "row r0, zero-shot"
    (diff,) = prompt_diffs(run)
    assert (diff.old, diff.new) == ("cls@v1", "cls@v2")
    assert ("del", '-{% message "system" %}Label it.{% endmessage %}') in diff.lines
    assert ("add", '+{% message "system" %}Label it now.{% endmessage %}') in diff.lines


def test_missing_pool_falls_back_to_zero_shot(run_folder: Path, tmp_path: Path) -> None:
    (tmp_path / "proj" / "datasets" / "pool.jsonl").unlink()
    views = rendered_prompts(content.load_content(run_folder))
    few = next(v for v in views if v.variant.label == "cls@v1 · k=2")
    assert len(few.messages) == 2
    assert "rendered zero-shot: its 2 examples could not be re-read" in few.note


def test_report_has_every_section_and_the_metadata(run_folder: Path) -> None:
    page = html_report(run_folder)
    for section in ("summary", "shots", "labels", "latency", "rows", "prompts", "run"):
        assert f'<section id="{section}">' in page
    assert page.count("<svg ") == 1 + 1 + 1 + 4 + 1  # score, front, shots, 4 confusions, latency
    meta = json.loads((run_folder / "meta.json").read_text())
    for ref, info in meta["prompts"].items():
        assert ref in page and info["hash"] in page
    assert meta["versions"]["python"] in page and meta["created"] in page


def test_cli_report_writes_into_the_run_folder_by_default(
    run_folder: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(run_folder.parents[2])  # the project: 'report' finds its latest run
    code, out, _ = cli("report")
    assert code == 0
    assert (run_folder / "report.html").is_file()
    assert f"report -> {Path('.promptkit', 'runs', run_folder.name, 'report.html')}" in out
    code, out, _ = cli("report", run_folder.name[:15], "-o", "out/page.html")
    assert code == 0 and Path("out/page.html").read_text().startswith("<!doctype html>")


def test_cli_report_without_runs_is_bad_input(cli: Any) -> None:
    code, _, err = cli("report")
    assert code == 2 and "no runs yet" in err


def test_eval_html_flag(tmp_path: Path, cli: Any) -> None:
    register_mock("hostile", hostile_model)
    suite = make_hostile_project(tmp_path / "proj")
    code, out, err = cli("eval", str(suite), "-q", "--html", "eval.html")
    assert code == 3 and "1 case(s) failed" in err  # the report is written all the same
    page = Path("eval.html").read_text()
    assert "report -> eval.html" in out
    assert len(embedded_data(page)["rows"]) == 6


def test_ten_thousand_rows_stay_small(tmp_path: Path) -> None:
    folder = large_run(tmp_path / "proj")
    path = write_html_report(folder, tmp_path / "large.html")
    data = embedded_data(path.read_text())
    assert len(data["rows"]) == 10_000
    assert all(cell for row in data["rows"] for cell in row[3])
    assert path.stat().st_size < 4_000_000  # plots are aggregates; rows are compact JSON


def test_run_without_rows_still_has_a_page(tmp_path: Path) -> None:
    suite = load_suite(make_hostile_project(tmp_path / "proj")).with_models(["mock/echo"])
    writer = RunStore().create(suite)  # killed before any case finished
    writer.close()
    page = html_report(writer.folder)
    assert embedded_data(page)["rows"] == [] and "<svg " not in page
    assert "The run has no rows yet." in page


def test_repeats_keep_the_first_output_and_the_mean_score(tmp_path: Path) -> None:
    replies = iter(["pos", "neg"] * 100)
    register_mock("flip", lambda request: next(replies))
    suite = make_hostile_project(tmp_path / "proj")
    suite.write_text(SUITE.replace("mock/hostile", "mock/flip") + "repeat: 2\n")
    run = content.load_content(evaluate(suite, RunOptions(concurrency=1), prompts=["cls@v1"]).path)
    first = row_table(run)["rows"][0][3][0]  # r0 (neg), cls@v1 k=0
    assert first[:5] == ["pos", None, [0.5, 0.5], None, 2]


@pytest.mark.slow
@needs_local_model
def test_report_of_a_real_local_run(cli: Any, repo: Path) -> None:
    suite = repo / "evals" / "sentiment.yaml"
    code, _, _ = cli("eval", str(suite), "--limit", "3", "-q", "--html", "real.html")
    assert code == 0
    page = Path("real.html").read_text()
    data = embedded_data(page)
    frame = load_run()
    assert len(data["rows"]) == 3 and len(data["variants"]) == 3
    assert {cell[0] for row in data["rows"] for cell in row[3]} == set(frame["output"])
    assert page.count("<svg ") == 1 + 1 + 1 + 3 + 1  # score, front, shots, 3 confusions, latency
    assert "with its 4 examples, re-read from" in page


def test_a_git_baseline_run_compares_each_variant_with_its_own_base(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.gitrepo import WORSE, git, make_repo

    make_repo(tmp_path, monkeypatch)
    base = git(tmp_path, "rev-parse", "--short=7", "HEAD")
    write(tmp_path / "prompts" / "cls" / "v2.jinja", WORSE)
    code, _, err = cli("eval", "evals/s.yaml", "--quiet", "--baseline", "main")
    assert code == 0, err
    run = content.load_content()
    assert run.reference_is_baseline
    assert run.reference == f"cls@v1 (base {base}) | mock/scripted | k=0"
    head = next(v for v in run.variants if v.summary.variant == "cls@v2 | mock/scripted | k=0")
    difference = head.differences["label_accuracy"]
    assert difference.mean == pytest.approx(0.5 - 25 / 30)
    assert difference.broken == 15 and difference.fixed == 5  # even rows lost, odd rows >= 20 won


def test_shots_plot_accepts_a_bound_a_rounding_error_inside_the_mean() -> None:
    # A perfect score's Wilson upper bound came out as 0.9999999999999999 < 1.0, and
    # matplotlib refused the negative error bar: `--html` failed after the run.
    from promptkit.report.plots import ShotPoint, shots_svg

    points = [
        ShotPoint("v2", "#1f77b4", k, 1.0, 0.926, 1.0 - 1e-16, 50.0 + k, None) for k in (0, 4)
    ]
    assert shots_svg(points).lstrip().startswith("<")


def test_every_variant_tied_at_the_best_mean_is_starred(tmp_path: Path, cli: Any) -> None:
    """cls@v1 and cls@v2 get the same answers (6 of 6), other@v1 3 of 6: both leaders are
    starred, in the terminal table and in the page."""
    suite = make_project(
        tmp_path,
        "dataset: {path: ../datasets/rows.jsonl, id: id}\ninputs: [text]\nreference: label\n"
        "prompts: [cls@v1, cls@v2, other]\nscorers: [label_accuracy]\nmodels:\n"
        "  - name: mock/scripted\n    responses:\n      - {match: '^Other: ', reply: pos}\n"
        "      - {match: 'row [024]', reply: neg}\n    default: pos\n",
    )
    write(
        tmp_path / "prompts" / "other" / "v1.jinja",
        PROMPT.replace('{% message "user" %}{{ text }}', '{% message "user" %}Other: {{ text }}'),
    )
    code, out, err = cli("eval", str(suite), "-q", "--html", "tie.html")
    assert code == 0, err
    starred = {line.split()[1] for line in out.splitlines() if "] * │" in line}
    assert starred == {"cls@v1", "cls@v2"}, out
    table = Path("tie.html").read_text().split('id="summary-table"')[1].split("</table>")[0]
    best_cells = re.findall(r'class="num score best">([^<]*)<', table)
    assert best_cells == ["1.000 [0.610, 1.000] "] * 2
