"""``promptkit init``: the scaffold runs as written, and a user's dataset becomes a suite.

Every test runs in its own temporary folder (the autouse fixture in conftest), so
``init`` writes there and ``check`` and ``eval`` read the files it wrote.
"""

from __future__ import annotations

import csv
import json
import re
import shlex
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from promptkit.define.datasets import load_dataset
from promptkit.define.prompts import PromptLibrary
from promptkit.errors import BadInput
from promptkit.scaffold import init_project, split_rows
from tests.conftest import REPO, needs_local_model

SCAFFOLD = {
    "prompts/tickets/v1.jinja",
    "evals/tickets.yaml",
    "datasets/tickets.jsonl",
    "datasets/tickets_pool.jsonl",
    ".github/workflows/promptkit.yml",
    ".pre-commit-config.yaml",
}


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def _write_jsonl(path: Path, counts: dict[str, int]) -> list[dict[str, Any]]:
    rows = [
        {"id": f"{label}-{i}", "text": f"message {i} about {label}", "label": label}
        for label, count in counts.items()
        for i in range(count)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    return rows


# --- the example scaffold -------------------------------------------------------------------------


def test_init_writes_a_project_that_checks_and_runs(tmp_path: Path, cli: Any) -> None:
    code, out, err = cli("init")
    assert code == 0, err
    assert _files(tmp_path) == SCAFFOLD
    assert out.count("wrote ") == len(SCAFFOLD)
    next_lines = out.split("Next:\n")[1].splitlines()
    assert [line.split()[1] for line in next_lines] == ["check", "eval", "add"]
    code, out, err = cli("check")
    assert code == 0, err
    assert "1 prompt files and 1 suites" in out
    code, out, err = cli("eval", "evals/tickets.yaml", "--model", "mock/echo", "--limit", "2")
    assert code == 0, err
    assert "tickets@v1" in out


def test_the_example_suite_runs_on_the_local_model_with_shots(tmp_path: Path) -> None:
    init_project(tmp_path)
    suite = yaml.safe_load((tmp_path / "evals/tickets.yaml").read_text("utf-8"))
    assert suite["models"] == ["local/smollm2"]  # no key, no server
    assert suite["shots"]["k"] == [0, 3] and suite["shots"]["strategy"] == "stratified"
    rows = _rows(tmp_path / "datasets/tickets.jsonl")
    pool = _rows(tmp_path / "datasets/tickets_pool.jsonl")
    assert Counter(r["label"] for r in pool) == {"billing": 1, "bug": 1, "account": 1}
    assert not {r["id"] for r in rows} & {r["id"] for r in pool}
    prompt = PromptLibrary(tmp_path / "prompts").get("tickets@v1")
    assert prompt.uses_examples


def test_init_never_overwrites_and_says_what_it_kept(tmp_path: Path, cli: Any) -> None:
    mine = "# my own workflow\n"
    (tmp_path / ".github/workflows").mkdir(parents=True)
    (tmp_path / ".github/workflows/promptkit.yml").write_text(mine, "utf-8")
    code, out, _ = cli("init")
    assert code == 0
    assert "kept .github/workflows/promptkit.yml" in out
    assert (tmp_path / ".github/workflows/promptkit.yml").read_text("utf-8") == mine
    before = {p: (tmp_path / p).read_text("utf-8") for p in SCAFFOLD}
    code, out, _ = cli("init")  # a second run keeps everything
    assert code == 0 and "wrote" not in out and out.count("kept ") == len(SCAFFOLD)
    assert {p: (tmp_path / p).read_text("utf-8") for p in SCAFFOLD} == before


def test_init_into_a_new_folder_prints_the_cd(tmp_path: Path, cli: Any) -> None:
    code, out, _ = cli("init", "new/project")
    assert code == 0
    assert _files(tmp_path / "new/project") == SCAFFOLD
    assert "  cd new/project\n" in out


def test_the_workflow_and_hook_are_ready_for_a_users_repository(tmp_path: Path) -> None:
    init_project(tmp_path)
    workflow = yaml.safe_load((tmp_path / ".github/workflows/promptkit.yml").read_text("utf-8"))
    assert workflow["env"]["SUITES"] == "evals/tickets.yaml"
    steps = workflow["jobs"]["prompts"]["steps"]
    runs = "\n".join(step.get("run", "") for step in steps)
    assert 'pip install "promptkit[local]==' in runs and "-e ." not in runs
    assert "--baseline" in runs and "--max-regression" in runs and "promptkit check" in runs
    cached = [s for s in steps if str(s.get("uses", "")).startswith("actions/cache/")]
    assert {s["with"]["path"] for s in cached} == {".promptkit/cache"}
    assert "__" not in json.dumps(workflow)  # every placeholder filled
    hooks = yaml.safe_load((tmp_path / ".pre-commit-config.yaml").read_text("utf-8"))
    (hook,) = hooks["repos"][0]["hooks"]
    assert hook["id"] == "promptkit-check" and hook["entry"] == "promptkit check"


# --- from a user's dataset ------------------------------------------------------------------------


def test_from_dataset_splits_by_label_with_a_seed(tmp_path: Path, cli: Any) -> None:
    rows = _write_jsonl(tmp_path / "data.jsonl", {"spam": 10, "ham": 20, "phish": 5})
    code, _, err = cli("init", "--from-dataset", "data.jsonl", "--seed", "3", "--id", "id")
    assert code == 0, err
    suite = yaml.safe_load((tmp_path / "evals/data.yaml").read_text("utf-8"))
    assert suite["dataset"] == {"path": "../datasets/data.jsonl", "id": "id"}
    assert suite["shots"] == {"k": [0, 4], "strategy": "stratified", "seed": 3}
    evaluated = _rows(tmp_path / "datasets/data.jsonl")
    pool = _rows(tmp_path / "datasets/data_pool.jsonl")
    assert Counter(r["label"] for r in pool) == {"spam": 2, "ham": 4, "phish": 1}
    # nothing lost, nothing in both, the file's order kept in each part
    assert sorted(evaluated + pool, key=rows.index) == rows
    assert evaluated == [r for r in rows if r in evaluated]
    prompt = PromptLibrary(tmp_path / "prompts").get("data@v1")
    assert prompt.meta.parser["labels"] == ["spam", "ham", "phish"]  # file order
    assert cli("check")[0] == 0
    assert cli("eval", "evals/data.yaml", "--model", "mock/echo", "--limit", "2")[0] == 0


def test_the_same_seed_gives_the_same_split(tmp_path: Path) -> None:
    _write_jsonl(tmp_path / "data.jsonl", {"a": 20, "b": 20})
    dataset = load_dataset(tmp_path / "data.jsonl", id_column="id")
    pools = [split_rows(dataset, "label", pool_fraction=0.2, seed=s).pool for s in (0, 0, 1)]
    assert pools[0] == pools[1]
    assert pools[0] != pools[2]


def test_from_csv_maps_its_columns_and_numeric_labels(tmp_path: Path, cli: Any) -> None:
    with (tmp_path / "reviews.csv").open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["review", "stars"])
        writer.writerows([f"review number {i}, quite long", str(1 + i % 3)] for i in range(12))
    code, _, err = cli(
        "init", "--from-dataset", "reviews.csv", "--input", "review", "--label", "stars"
    )
    assert code == 0, err
    suite = yaml.safe_load((tmp_path / "evals/reviews.yaml").read_text("utf-8"))
    assert suite["inputs"] == {"text": "review"} and suite["reference"] == "stars"
    prompt = PromptLibrary(tmp_path / "prompts").get("reviews@v1")
    assert prompt.meta.parser["labels"] == ["1", "2", "3"]
    assert cli("check")[0] == 0
    assert cli("eval", "evals/reviews.yaml", "--model", "mock/echo", "--limit", "2")[0] == 0


def test_from_yaml_with_no_pool(tmp_path: Path, cli: Any) -> None:
    rows = [{"q": f"question {i}", "answer": "yes" if i % 2 else "no"} for i in range(4)]
    (tmp_path / "qa.yaml").write_text(yaml.safe_dump(rows), "utf-8")
    code, out, err = cli(
        "init", "--from-dataset", "qa.yaml", "--input", "q", "--label", "answer",
        "--pool-fraction", "0", "--name", "yes-no",
    )  # fmt: skip
    assert code == 0, err
    assert "datasets/yes-no_pool.jsonl" not in out
    suite = yaml.safe_load((tmp_path / "evals/yes-no.yaml").read_text("utf-8"))
    assert "examples" not in suite and suite["shots"] == [0]
    assert len(_rows(tmp_path / "datasets/yes-no.jsonl")) == 4
    assert cli("check")[0] == 0


def test_labels_that_look_like_jinja_stay_text(tmp_path: Path, cli: Any) -> None:
    _write_jsonl(tmp_path / "data.jsonl", {"{{ 7*7 }}": 3, "#plain": 3})
    assert cli("init", "--from-dataset", "data.jsonl")[0] == 0
    messages = PromptLibrary(tmp_path / "prompts").get("data@v1").render({"text": "hi"})
    assert "{{ 7*7 }}, #plain" in messages[0].content
    assert cli("check")[0] == 0


# --- errors: one line, the file, the fix, exit 2 ------------------------------------------------


def _error(cli: Any, *args: str) -> str:
    code, out, err = cli(*args)
    assert code == 2, (out, err)
    assert len(err.strip().splitlines()) == 1, err
    return str(err)


def test_a_wrong_column_name_lists_the_columns(tmp_path: Path, cli: Any) -> None:
    _write_jsonl(tmp_path / "data.jsonl", {"a": 3, "b": 3})
    err = _error(cli, "init", "--from-dataset", "data.jsonl", "--input", "txt")
    assert "data.jsonl: no column 'txt' (asked for by --input)" in err
    assert "id, text, label" in err
    err = _error(cli, "init", "--from-dataset", "data.jsonl", "--label", "class")
    assert "--label" in err and "'class'" in err
    assert not (tmp_path / "evals").exists()  # nothing written before the data is good


def test_a_label_with_one_row_cannot_be_split(tmp_path: Path, cli: Any) -> None:
    _write_jsonl(tmp_path / "data.jsonl", {"a": 5, "b": 1})
    err = _error(cli, "init", "--from-dataset", "data.jsonl")
    assert "data.jsonl:6: label 'b' has only 1 row" in err and "--pool-fraction 0" in err


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([{"text": "x", "label": None}], "data.jsonl:1: row"),
        ([{"text": "x", "label": "a"}, {"text": "y", "label": "A"}], "differ only in case"),
        ([{"text": "x", "label": "a"}, {"text": "y", "label": "a"}], "one label only"),
        ([{"text": "x", "label": "a"}, {"text": "y", "label": ["b"]}], "data.jsonl:2:"),
        (
            [{"text": "x", "label": "a"}, {"text": "y", "label": " "}],
            "an empty value in column 'label'",
        ),
    ],
)
def test_bad_labels_are_refused_with_their_line(
    tmp_path: Path, cli: Any, rows: list[dict[str, Any]], expected: str
) -> None:
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    assert expected in _error(cli, "init", "--from-dataset", "data.jsonl")


def test_bad_places_and_names(tmp_path: Path, cli: Any) -> None:
    (tmp_path / "afile").write_text("x", "utf-8")
    assert "afile: is a file, not a folder" in _error(cli, "init", "afile")
    assert "--name 'a b'" in _error(cli, "init", "--name", "a b")
    assert "dataset file not found" in _error(cli, "init", "--from-dataset", "missing.jsonl")
    assert "pool-fraction" in _error(cli, "init", "--pool-fraction", "1")
    _write_jsonl(tmp_path / "data.jsonl", {"a": 3, "b": 3})
    err = _error(cli, "init", "--from-dataset", "data.jsonl", "--input", "label")
    assert "--input and --label both name column 'label'" in err


def test_a_dataset_inside_datasets_needs_another_name(tmp_path: Path, cli: Any) -> None:
    (tmp_path / "datasets").mkdir()
    _write_jsonl(tmp_path / "datasets/tickets.jsonl", {"a": 3, "b": 3})
    err = _error(cli, "init", "--from-dataset", "datasets/tickets.jsonl")
    assert "datasets/tickets.jsonl: exists" in err and "--name" in err
    assert cli("init", "--from-dataset", "datasets/tickets.jsonl", "--name", "t")[0] == 0


def test_the_library_function_raises_bad_input(tmp_path: Path) -> None:
    _write_jsonl(tmp_path / "d.jsonl", {"a": 2, "b": 2})
    with pytest.raises(BadInput, match="no column 'x'"):
        init_project(tmp_path, from_dataset=tmp_path / "d.jsonl", label_column="x")
    with pytest.raises(BadInput, match="outside"):
        init_project(tmp_path, from_dataset=tmp_path / "d.jsonl", pool_fraction=-0.1)


# --- the README's commands -----------------------------------------------------------------------


def _readme_commands() -> list[list[str]]:
    """The ``promptkit`` lines of the README's "Start a new project" text blocks (they are
    not sh blocks: tests/test_readme.py runs those inside the example project)."""
    readme = (REPO / "README.md").read_text("utf-8")
    section = readme.split("## Start a new project\n")[1].split("\n## ")[0]
    blocks = re.findall(r"^```text\n(.*?)^```", section, re.MULTILINE | re.DOTALL)
    lines = [line.split("  #")[0].strip() for block in blocks for line in block.splitlines()]
    return [shlex.split(line)[1:] for line in lines if line.startswith("promptkit ")]


def test_the_readme_commands_work_in_an_empty_folder(tmp_path: Path, cli: Any) -> None:
    commands = _readme_commands()
    assert [argv[0] for argv in commands] == ["init", "check", "eval", "init"]
    _write_jsonl(tmp_path / "data.jsonl", {"yes": 5, "no": 5})
    for argv in commands:
        if argv[0] == "eval":  # the README's model is the real one; the test's is scripted
            argv = [*argv, "--model", "mock/echo", "--limit", "2"]
        code, out, err = cli(*argv)
        assert code == 0, f"{argv}\n{out}\n{err}"
    assert {"evals/tickets.yaml", "evals/data.yaml", "datasets/data_pool.jsonl"} <= _files(tmp_path)
    assert cli("check")[0] == 0


# --- the real model ---------------------------------------------------------------------------


@pytest.mark.slow
@needs_local_model
def test_the_scaffold_runs_on_the_embedded_model(cli: Any) -> None:
    assert cli("init")[0] == 0
    code, out, err = cli("eval", "evals/tickets.yaml", "--limit", "3")
    assert code == 0, err
    assert "local/smollm2" in out
