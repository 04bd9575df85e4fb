from __future__ import annotations

from pathlib import Path

import pytest

from promptkit import SuiteError, load_suite
from tests.conftest import write

PROMPT = """---
inputs: [text]
parser: {type: label, labels: [pos, neg]}
---
{% message "system" %}Label it.{% endmessage %}
{% for ex in examples %}
{% message "user" %}{{ ex.text }}{% endmessage %}
{% message "assistant" %}{{ ex.answer }}{% endmessage %}
{% endfor %}
{% message "user" %}{{ text }}{% endmessage %}
"""


def make_project(root: Path, suite: str) -> Path:
    write(root / "prompts" / "cls" / "v1.jinja", PROMPT)
    write(root / "prompts" / "cls" / "v2.jinja", PROMPT.replace("Label it.", "Label it now."))
    write(root / "prompts" / "plain" / "v1.jinja", '{% message "user" %}{{ text }}{% endmessage %}')
    rows = "".join(
        f'{{"id": "r{i}", "text": "row {i}", "label": "{"pos" if i % 2 else "neg"}"}}\n'
        for i in range(6)
    )
    write(root / "datasets" / "rows.jsonl", rows)
    pool = "".join(
        f'{{"id": "p{i}", "text": "pool {i}", "label": "{"pos" if i % 2 else "neg"}"}}\n'
        for i in range(6)
    )
    write(root / "datasets" / "pool.jsonl", pool)
    return write(root / "evals" / "s.yaml", suite)


BASE = """\
dataset: {path: ../datasets/rows.jsonl, id: id}
examples: ../datasets/pool.jsonl
inputs: [text]
reference: label
prompts: [cls@v1, cls@v2, plain]
models: [mock/echo]
shots: [0, 2]
scorers: [label_accuracy, {exact_match: {normalize: true}}]
"""


def test_suite_loads_and_expands_variants(tmp_path: Path) -> None:
    suite = load_suite(make_project(tmp_path, BASE))
    ids = [v.id for v in suite.variants()]
    # 'plain' never reads examples, so it runs zero-shot only
    assert ids == [
        "cls@v1 | mock/echo | k=0",
        "cls@v1 | mock/echo | k=2",
        "cls@v2 | mock/echo | k=0",
        "cls@v2 | mock/echo | k=2",
        "plain@v1 | mock/echo | k=0",
    ]
    assert [s.metric for s in suite.scorers] == ["label_accuracy", "exact_match"]
    assert suite.inputs == {"text": "text"}


def test_unknown_key_names_key_file_and_line(tmp_path: Path) -> None:
    path = make_project(tmp_path, BASE + "scorer: [oops]\n")
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    assert str(info.value).startswith(
        f"{path}:9: unknown key 'scorer' (did you mean 'scorers'?; known keys: description"
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("prompts: [cls@v1, cls@v2, plain]", "prompts: [cls@v9]"), "unknown version cls@v9"),
        (
            ("shots: [0, 2]", "shots: [0, -1]"),
            r"'shots\[1\]' must be an integer from 0 to 10000, not -1",
        ),
        (
            ("shots: [0, 2]", "shots: {k: [2], strategy: nearest}"),
            "'shots.strategy' must be one of first, random, stratified, similar, not 'nearest'",
        ),
        (("shots: [0, 2]", "shots: {k: [max]}"), "k: max needs a token_budget"),
        (("reference: label", "reference: lable"), "has no column 'lable'"),
        (("inputs: [text]", "inputs: [txt]"), "has no column 'txt'"),
        (("scorers: [label_accuracy", "scorers: [label_acc"), "unknown scorer 'label_acc'"),
        (
            ("dataset: {path: ../datasets/rows.jsonl, id: id}", "dataset: ../datasets/nope.jsonl"),
            "dataset file not found",
        ),
        (("models: [mock/echo]", "models: []"), "'models' is empty"),
        (("examples: ../datasets/pool.jsonl\n", ""), "few-shot needs an example pool"),
    ],
)
def test_bad_suites(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    assert change[0] in BASE
    path = make_project(tmp_path, BASE.replace(*change))
    with pytest.raises(Exception, match=message):
        load_suite(path)


def test_suite_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    path = make_project(tmp_path, BASE + "params: {a: [1\n")
    with pytest.raises(SuiteError, match="invalid YAML") as info:
        load_suite(path)
    assert info.value.line is not None


def test_shipped_suites_load(repo: Path) -> None:
    for name in ("sentiment", "intent", "rating"):
        suite = load_suite(repo / "evals" / f"{name}.yaml")
        assert len(suite.prompts) >= 1
        assert len(suite.dataset) >= 40
    assert len(load_suite(repo / "evals" / "sentiment.yaml").prompts) >= 2
