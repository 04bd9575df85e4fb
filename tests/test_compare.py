"""``promptkit compare`` and the comparison API on scripted runs (exact outputs)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from promptkit import BadInput, Request, evaluate, load_run, register_mock
from promptkit.results.compare import compare_many, compare_variants, find_variant, plan_pairs
from promptkit.results.stats import holm
from tests.test_suite import BASE, make_project

V1, V2 = "cls@v1 | mock/cmp2 | k=0", "cls@v2 | mock/cmp2 | k=0"


def _row(request: Request) -> int:
    match = re.search(r"row (\d)", request.messages[-1].content)
    assert match
    return int(match.group(1))


def answer(request: Request) -> str:
    """v1 is right on every row but 0; v2 is right on rows 0-2 only; the few-shot
    variants ('pool' text in the request) are always right."""
    i = _row(request)
    truth = "pos" if i % 2 else "neg"
    wrong = "neg" if truth == "pos" else "pos"
    if any("pool" in m.content for m in request.messages):
        return truth
    if "Label it now" in request.messages[0].content:
        return truth if i <= 2 else wrong
    return truth if i != 0 else wrong


@pytest.fixture
def run_id(tmp_path: Path) -> str:
    register_mock("cmp2", answer)
    suite = make_project(tmp_path, BASE.replace("mock/echo", "mock/cmp2"))
    return evaluate(suite, prompts=["cls@v1", "cls@v2"]).run_id


def test_compare_api_means_flips_and_holm_across_pairs(run_id: str) -> None:
    frame = load_run(run_id)
    single = compare_variants(frame, V1, frame, V2, ["label_accuracy", "exact_match"])
    accuracy = single.metrics[0]
    assert accuracy.a_mean == pytest.approx(5 / 6) and accuracy.b_mean == pytest.approx(3 / 6)
    assert accuracy.fixed == ["r0"] and accuracy.broken == ["r3", "r4", "r5"]
    assert accuracy.difference.method == "mcnemar-exact"
    assert accuracy.difference.p_value == pytest.approx(0.625)  # 1 vs 3 discordant: exact
    pairs = plan_pairs(frame)
    assert pairs[0] == (V1, "cls@v1 | mock/cmp2 | k=2") and len(pairs) == 3
    many = compare_many(pairs, frame, frame, ["label_accuracy", "exact_match"])
    raw = [m.difference.p_value for c in many for m in c.metrics]
    assert [m.p_holm for c in many for m in c.metrics] == pytest.approx(holm(raw))
    assert all(c.family == 6 for c in many)


def test_variant_names_resolve_by_unique_part(run_id: str) -> None:
    frame = load_run(run_id)
    assert find_variant(frame, "cls@v2 | mock/cmp2 | k=0") == V2
    assert find_variant(frame, "v2 | mock/cmp2 | k=2").endswith("k=2")
    with pytest.raises(BadInput, match=r"2 variants of run .* match 'cls@v2'"):
        find_variant(frame, "cls@v2")
    with pytest.raises(BadInput, match="no variant"):
        find_variant(frame, "cls@v9")


def test_compare_command_prints_differences_and_flipped_rows(cli: Any, run_id: str) -> None:
    code, out, _ = cli(
        "compare", run_id, "--a", "cls@v1 | mock/cmp2 | k=0", "--b", "v2 | mock/cmp2 | k=0"
    )
    assert code == 0, out
    assert "b - a on 6 shared rows" in out
    assert "-0.333 [" in out and "mcnemar-exact" in out and "0.625" in out
    assert "rows that flipped" in out and "fail -> pass" in out and "pass -> fail" in out
    assert re.search(r"r0 .*fail -> pass", out) and re.search(r"r3 .*pass -> fail", out)


def test_compare_command_defaults_to_all_variants_of_the_latest_run(cli: Any, run_id: str) -> None:
    code, out, _ = cli("compare", "--json")
    assert code == 0
    data = json.loads(out)
    assert [c["a"] for c in data] == [V1] * 3
    assert data[0]["family"] == 6
    assert {m["metric"] for m in data[0]["metrics"]} == {"label_accuracy", "exact_match"}


def test_compare_across_two_runs_pairs_same_variants(cli: Any, tmp_path: Path, run_id: str) -> None:
    register_mock("cmp2", lambda request: "pos")  # a worse model under the same name
    second = evaluate(tmp_path / "evals" / "s.yaml", prompts=["cls@v1", "cls@v2"]).run_id
    code, out, _ = cli("compare", run_id, "--run-b", second, "--json", "--metric", "label_accuracy")
    assert code == 0
    data = json.loads(out)
    assert [c["a"] for c in data] == [c["b"] for c in data] and len(data) == 4
    first = data[0]["metrics"][0]
    assert first["a_mean"] == pytest.approx(5 / 6) and first["b_mean"] == pytest.approx(0.5)
    assert data[0]["family"] == 4


def test_model_text_prints_literally_not_as_markup(cli: Any, tmp_path: Path) -> None:
    def marked(request: Request) -> str:
        return (
            "[bold red]neg[/bold red]" if "Label it now" in request.messages[0].content else "pos"
        )

    register_mock("markup", marked)
    suite = make_project(tmp_path, BASE.replace("mock/echo", "mock/markup"))
    run = evaluate(suite, prompts=["cls@v1", "cls@v2"]).run_id
    code, out, _ = cli(
        "compare", run, "--a", "v1 | mock/markup | k=0", "--b", "v2 | mock/markup | k=0"
    )
    assert code == 0 and "[bold red]neg[/bold red]" in out


def test_compare_bad_input_is_one_line(cli: Any, run_id: str) -> None:
    code, _, err = cli("compare", run_id, "--metric", "nope")
    assert code == 2 and "no metric 'nope'" in err and "label_accuracy" in err
    code, _, err = cli(
        "compare", run_id, "--a", "cls@v2 | mock/cmp2 | k=0", "--b", "v2 | mock/cmp2 | k=0"
    )
    assert (
        code == 2 and "nothing to compare: --a and --b both name 'cls@v2 | mock/cmp2 | k=0'" in err
    )
    assert len(err.strip().splitlines()) == 1
    code, _, err = cli("compare", run_id, "--b", "cls@v7")
    assert code == 2 and "no variant of run" in err and "matches 'cls@v7'" in err
    assert len(err.strip().splitlines()) == 1


def test_compare_states_its_holm_family(cli: Any, run_id: str) -> None:
    code, out, _ = cli("compare", run_id)
    assert code == 0
    note = "p (Holm): adjusted over the 6 comparison(s) shown (every variant pair and metric)"
    assert " ".join(out.split()).count(note) == 3  # under each of the 3 tables, one family


def test_compare_across_two_models_pairs_by_prompt_and_shots(
    cli: Any, tmp_path: Path, run_id: str
) -> None:
    """The README's 'same variants, two runs (e.g. two models)': ids differ in the model."""
    register_mock("cmp3", lambda request: "pos")
    suite = tmp_path / "evals" / "s.yaml"
    second = evaluate(suite, models=["mock/cmp3"], prompts=["cls@v1", "cls@v2"]).run_id
    code, out, err = cli("compare", run_id, "--run-b", second, "--metric", "label_accuracy")
    assert code == 0, err
    flat = " ".join(out.split())
    assert "paired by prompt and shots across models (a: mock/cmp2; b: mock/cmp3)" in flat
    assert "a: cls@v1 | mock/cmp2 | k=0 b: cls@v1 | mock/cmp3 | k=0" in flat
    code, out, _ = cli("compare", run_id, "--run-b", second, "--json")
    data = json.loads(out)
    assert [(c["a"], c["b"]) for c in data] == [
        (f"cls@v{v} | mock/cmp2 | k={k}", f"cls@v{v} | mock/cmp3 | k={k}")
        for v in (1, 2)
        for k in (0, 2)
    ]
    assert data[0]["paired"].startswith("paired by prompt and shots")
    first = data[0]["metrics"][0]
    assert first["a_mean"] == pytest.approx(5 / 6) and first["b_mean"] == pytest.approx(0.5)


def test_compare_across_runs_refuses_an_ambiguous_pairing(
    cli: Any, tmp_path: Path, run_id: str
) -> None:
    register_mock("cmp3", lambda request: "pos")
    register_mock("cmp4", lambda request: "neg")
    suite = tmp_path / "evals" / "s.yaml"
    second = evaluate(suite, models=["mock/cmp3", "mock/cmp4"], prompts=["cls@v1"]).run_id
    code, _, err = cli("compare", run_id, "--run-b", second)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "several models for the same prompt and shots" in err and "--a and --b" in err
