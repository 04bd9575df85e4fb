"""promptkit export finetune: files read back, and the validator fed malformed rows."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from promptkit import BadInput, DatasetError, load_suite
from promptkit.export import (
    COMPLETION_SEPARATOR,
    COMPLETION_STOP,
    check_finetune,
    default_epochs,
    export_finetune,
    token_counter,
)
from tests.conftest import write
from tests.test_suite import make_project

SUITE = """\
dataset: {path: ../datasets/rows.jsonl, id: id}
examples: {path: ../datasets/export_pool.jsonl, id: id}
inputs: [text]
reference: label
prompts: [cls@v1, plain]
models: [openai/gpt-4o-mini]
shots: [0, 2]
scorers: [label_accuracy]
"""


def pool_rows() -> list[dict[str, Any]]:
    rows = [
        {"id": f"e{i}", "text": f"example number {i}", "label": "pos" if i % 2 else "neg"}
        for i in range(12)
    ]
    rows.append({"id": "r1", "text": "an unseen text with an evaluation id", "label": "pos"})
    rows.append({"id": "e99", "text": "  Row 2 ", "label": "neg"})  # an evaluation row's text
    return rows


def project(tmp_path: Path, rows: list[dict[str, Any]] | None = None) -> Path:
    suite = make_project(tmp_path, SUITE)
    lines = "".join(json.dumps(r) + "\n" for r in rows or pool_rows())
    write(tmp_path / "datasets" / "export_pool.jsonl", lines)
    return suite


def read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def test_chat_export_reads_back_from_the_pool_only(tmp_path: Path) -> None:
    suite = load_suite(project(tmp_path))
    out = tmp_path / "ft" / "train.jsonl"
    result = export_finetune(suite, suite.prompts[0], out)
    rows = read(out)
    assert len(rows) == result.exported == 12  # 14 in the pool, 2 are evaluation rows
    assert result.pool_rows == 14
    users = {r["messages"][1]["content"] for r in rows}
    assert users == {f"example number {i}" for i in range(12)}
    for row in rows:
        roles = [m["role"] for m in row["messages"]]
        assert roles == ["system", "user", "assistant"]
        number = int(row["messages"][1]["content"].split()[-1])
        assert row["messages"][2]["content"] == ("pos" if number % 2 else "neg")
        assert row["messages"][0]["content"] == "Label it."  # the template's, zero-shot
    assert result.train.errors == [] and result.system_message
    assert "2 dropped" in result.notes[0]


def test_validation_split_is_seeded_and_disjoint(tmp_path: Path) -> None:
    suite = load_suite(project(tmp_path))
    out = tmp_path / "train.jsonl"
    result = export_finetune(suite, suite.prompts[0], out, validation_split=0.25, seed=3)
    held = tmp_path / "train.validation.jsonl"
    train, validation = read(out), read(held)
    assert (len(train), len(validation)) == (9, 3)
    assert result.validation is not None and result.validation.rows == 3
    as_text = [json.dumps(r, sort_keys=True) for r in train + validation]
    assert len(set(as_text)) == 12
    export_finetune(
        suite, suite.prompts[0], tmp_path / "again.jsonl", validation_split=0.25, seed=3
    )
    assert read(tmp_path / "again.jsonl") == train
    export_finetune(
        suite, suite.prompts[0], tmp_path / "other.jsonl", validation_split=0.25, seed=4
    )
    assert read(tmp_path / "other.jsonl") != train


def test_template_without_system_message_gives_user_assistant_rows(tmp_path: Path) -> None:
    suite = load_suite(project(tmp_path))
    out = tmp_path / "plain.jsonl"
    result = export_finetune(suite, suite.prompts[1], out)
    assert all([m["role"] for m in r["messages"]] == ["user", "assistant"] for r in read(out))
    assert not result.system_message
    assert any("renders no system message" in n for n in result.notes)
    report = check_finetune(out)
    assert report.errors == [] and report.no_system_message == 12


def test_completion_format(tmp_path: Path) -> None:
    suite = load_suite(project(tmp_path))
    out = tmp_path / "legacy.jsonl"
    export_finetune(suite, suite.prompts[0], out, fmt="completion")
    first = read(out)[0]
    assert set(first) == {"prompt", "completion"}
    assert first["prompt"].startswith("Label it.\n\nexample number ")
    assert first["prompt"].endswith(COMPLETION_SEPARATOR)
    assert first["completion"] in (f" pos{COMPLETION_STOP}", f" neg{COMPLETION_STOP}")
    report = check_finetune(out)
    assert report.format == "completion" and report.errors == []


def test_token_counts_and_training_cost(tmp_path: Path) -> None:
    suite = load_suite(project(tmp_path))
    out = tmp_path / "train.jsonl"
    result = export_finetune(suite, suite.prompts[0], out, training_price=25e-6, epochs=2)
    counter = token_counter("openai/gpt-4o-mini")
    assert counter.exact and counter.name.startswith("o200k_base")
    # the cookbook's count: 3 per message, the tokens of each value, 3 to prime the reply
    expected = [
        3 + sum(3 + counter.count(m["role"]) + counter.count(m["content"]) for m in r["messages"])
        for r in read(out)
    ]
    report = result.train
    assert list(report.tokens_per_example) == expected
    assert report.training_tokens == sum(expected) * 2
    assert report.training_cost == pytest.approx(sum(expected) * 2 * 25e-6)
    unknown = token_counter("local/smollm2")
    assert not unknown.exact and "estimates" in unknown.name


@pytest.mark.parametrize(("examples", "epochs"), [(1, 25), (5, 20), (13, 7), (50, 3), (10_000, 2)])
def test_default_epochs_follow_openai(examples: int, epochs: int) -> None:
    assert default_epochs(examples) == epochs


MALFORMED = [
    '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "a"}]}',
    "{not json",
    '["a list"]',
    '{"rows": []}',
    '{"messages": [{"role": "narrator", "content": "x"}, {"role": "assistant", "content": "a"}]}',
    '{"messages": [{"role": "user", "content": "no answer"}]}',
    '{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "  "}]}',
    '{"messages": [{"role": "user", "content": "q", "colour": 1}, {"role": "assistant", "content": "a"}]}',
    '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "a"}]}',
    '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "b"}]}',
    '{"messages": [{"role": "user", "content": "'
    + "long " * 60
    + '"}, {"role": "assistant", "content": "a"}]}',
    '{"messages": [{"role": "user"}, {"role": "assistant", "content": "a"}]}',
]


def test_check_finds_every_kind_of_problem_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.jsonl", "\n".join(MALFORMED) + "\n")
    report = check_finetune(path, max_tokens=50)
    found = {(p.line, p.kind) for p in report.problems}
    assert found == {
        (2, "invalid_json"),
        (3, "not_an_object"),
        (4, "missing_messages"),
        (5, "bad_role"),
        (5, "missing_user"),  # a warning: only the narrator and the assistant speak
        (6, "missing_assistant"),
        (7, "empty_content"),
        (8, "unknown_key"),
        (9, "duplicate"),
        (10, "conflict"),
        (11, "too_long"),
        (12, "missing_key"),
        (None, "too_few"),
    }
    errors = {p.kind for p in report.errors}
    assert errors == {
        "invalid_json",
        "not_an_object",
        "missing_messages",
        "bad_role",
        "missing_assistant",
        "empty_content",
        "unknown_key",
        "missing_key",
    }
    assert report.rows == 12
    assert len(report.tokens_per_example) == 4  # lines 1, 9, 10 and 11 are well formed
    assert report.billed_tokens == sum(min(n, 50) for n in report.tokens_per_example)


def test_check_completion_rows(tmp_path: Path) -> None:
    lines = [
        {"prompt": "a ->", "completion": " x"},
        {"prompt": "b ->", "completion": ""},
        {"prompt": "c ->"},
        {"prompt": "d ->", "completion": " y", "extra": 1},
    ]
    path = write(tmp_path / "c.jsonl", "".join(json.dumps(r) + "\n" for r in lines))
    report = check_finetune(path)
    assert {(p.line, p.kind) for p in report.errors} == {
        (2, "empty_content"),
        (3, "missing_key"),
        (4, "unknown_key"),
    }


def test_export_refuses_a_pool_row_that_makes_an_invalid_example(tmp_path: Path) -> None:
    rows = pool_rows()
    rows[4]["label"] = ""
    suite = load_suite(project(tmp_path, rows))
    out = tmp_path / "train.jsonl"
    with pytest.raises(DatasetError) as info:
        export_finetune(suite, suite.prompts[0], out)
    assert str(info.value).startswith(f"{suite.pool.path if suite.pool else ''}:5: pool row 'e4'")
    assert "assistant" in str(info.value)
    assert not out.exists()


def test_export_needs_a_pool_with_rows_left(tmp_path: Path) -> None:
    no_pool = replace(load_suite(project(tmp_path)), pool=None)
    with pytest.raises(BadInput, match="no example pool"):
        export_finetune(no_pool, no_pool.prompts[0], tmp_path / "x.jsonl")
    overlap = [{"id": f"r{i}", "text": f"other {i}", "label": "pos"} for i in range(3)]
    suite = load_suite(project(tmp_path, overlap))
    with pytest.raises(BadInput, match="no pool row is left"):
        export_finetune(suite, suite.prompts[0], tmp_path / "x.jsonl")


def test_cli_export_and_check(cli: Any, tmp_path: Path) -> None:
    suite = project(tmp_path)
    out = tmp_path / "t.jsonl"
    code, text, _ = cli(
        "export", "finetune", str(suite), "--prompt", "cls@v1", "-o", str(out),
        "--validation-split", "0.2", "--training-price", "3",
    )  # fmt: skip
    assert code == 0
    assert f"{out}: 10 chat examples, 0 errors" in text
    assert "training cost: $" in text and "o200k_base" in text
    code, text, _ = cli("export", "finetune", "--check", str(out), "--json")
    assert code == 0
    data = json.loads(text)
    assert data["files"][0]["rows"] == 10 and data["files"][0]["errors"] == []
    bad = write(tmp_path / "bad.jsonl", "\n".join(MALFORMED))
    code, text, err = cli("export", "finetune", "--check", str(bad))
    assert code == 2
    assert "line 6: no assistant message to learn from [missing_assistant]" in text
    assert err.strip().splitlines() == [
        f"promptkit: error: {bad}:2: 8 invalid examples (bad_role, empty_content, "
        "invalid_json, missing_assistant, missing_key, missing_messages, not_an_object, "
        "unknown_key) (fix the lines listed above)"
    ]
    code, _, err = cli("export", "finetune", str(suite), "-o", str(out))
    assert code == 2 and "needs SUITE, --prompt" in err


@pytest.mark.parametrize("text", ["", "\n\n"])
def test_check_refuses_a_file_without_examples(cli: Any, tmp_path: Path, text: str) -> None:
    empty = write(tmp_path / "empty.jsonl", text)
    code, out, err = cli("export", "finetune", "--check", str(empty))
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        f"promptkit: error: {empty}: no examples: the file is empty "
        "(write one JSON object per line, e.g. with 'promptkit export finetune')"
    ]
