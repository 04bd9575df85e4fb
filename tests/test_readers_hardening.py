"""The readers of user files (suites, prompt files, datasets, schemas, scorer files):
malformed input is one BadInput naming the file and line, valid input is never
altered, and nothing a careless or hostile file holds crashes or hangs them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from promptkit import BadInput, PromptLibrary, load_dataset, load_suite
from promptkit.define.files import MAX_ALIAS_NODES, MAX_DEPTH
from promptkit.results.stats import macro_f1_interval
from tests.conftest import write
from tests.test_suite import BASE, PROMPT, make_project


def _raises(load: Callable[[], object], path: Path, line: int | None, *words: str) -> BadInput:
    with pytest.raises(BadInput) as info:
        load()
    error = info.value
    assert error.path == str(path), error
    if line is not None:
        assert error.line == line, error
    for word in words:
        assert word in error.message, error
    assert "\n" not in str(error)
    return error


# -- CSV ----------------------------------------------------------------------------------

CSV_KEPT = [
    ('id,t\n1,"line one\nline two"\n2,x\n', [("line one\nline two", 2), ("x", 4)]),
    ('id,t\n1,"a\x0cb"\n2,"c\x0bd"\n', [("a\x0cb", 2), ("c\x0bd", 3)]),
    ('id,t\r\n1,"a\r\nb"\r\n2,c\r\n', [("a\r\nb", 2), ("c", 4)]),
    ("id,t\n1,a\u2028b\n2,c\x85d\x1ce\n", [("a\u2028b", 2), ("c\x85d\x1ce", 3)]),
    ('\ufeffid,t\n\n1,"say ""hi"""\n\n2,"x, y"\n', [('say "hi"', 3), ("x, y", 5)]),
]


@pytest.mark.parametrize(("text", "expected"), CSV_KEPT)
def test_csv_keeps_every_character_of_quoted_fields(
    tmp_path: Path, text: str, expected: list[tuple[str, int]]
) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes(text.encode("utf-8"))
    rows = load_dataset(path, id_column="id").rows
    assert [(r["t"], r.line) for r in rows] == expected
    assert list(rows[0].data) == ["id", "t"]


CSV_BAD = [
    ('id,t\n1,"open\n2,x\n3,y\n', 2, "never closed"),
    ('id,t\n1,a\n2,"b\n', 3, "never closed"),
    ("id,t,u\n1,a,b\n2,a\n", 3, "2 field(s) but the header has 3"),
    ("id,t\n1,a\n2,a,b\n", 3, "3 field(s) but the header has 2"),
    ('id,t\n1,"a\nb"\n2\n', 4, "1 field(s)"),
    ('id,t\n1,"a"b\n', 2, "invalid CSV"),
    ("id,t,t\n1,a,b\n", 1, "'t' appears twice"),
    ("id,t\n1,a\n2," + "x" * 140_000 + "\n", 3, "field larger than field limit"),
]


@pytest.mark.parametrize(("text", "line", "words"), CSV_BAD)
def test_malformed_csv_names_the_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    path = write(tmp_path / "d.csv", text)
    _raises(lambda: load_dataset(path), path, line, words)


# -- JSONL --------------------------------------------------------------------------------


@pytest.mark.parametrize("char", ["\u2028", "\u2029", "\x85"])
def test_jsonl_splits_on_newline_only(tmp_path: Path, char: str) -> None:
    text = f'{{"t": "a{char}b"}}\r\n\n{{"t": "c"}}\n'
    path = tmp_path / "d.jsonl"
    path.write_bytes(text.encode("utf-8"))
    rows = load_dataset(path).rows
    assert [(r["t"], r.line) for r in rows] == [(f"a{char}b", 1), ("c", 3)]


@pytest.mark.parametrize("char", ["\x0c", "\x0b", "\x1c", "\x1d", "\x1e", "\r"])
def test_jsonl_control_characters_must_be_escaped(tmp_path: Path, char: str) -> None:
    path = tmp_path / "d.jsonl"
    path.write_bytes(f'{{"t": "c"}}\n{{"t": "a{char}b"}}\n'.encode())
    _raises(lambda: load_dataset(path), path, 2, "invalid JSON: Invalid control character")


JSONL_BAD = [
    ("[" * 100_000, "nested deeper than"),
    ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "nested deeper than"),
    ('{"n": ' + "9" * 5000 + "}", "longer than 4300 digits"),
    ('{"t": "\\ud800"}', "lone surrogate"),
    ('{"t": "x"', "invalid JSON"),
]


@pytest.mark.parametrize(("line", "words"), JSONL_BAD)
def test_malformed_jsonl_names_the_line(tmp_path: Path, line: str, words: str) -> None:
    path = write(tmp_path / "d.jsonl", '{"t": "ok"}\n' + line + "\n")
    _raises(lambda: load_dataset(path), path, 2, words)


def test_nesting_up_to_the_limit_is_kept(tmp_path: Path) -> None:
    deep = "[" * (MAX_DEPTH - 1) + "1" + "]" * (MAX_DEPTH - 1)
    path = write(tmp_path / "d.jsonl", f'{{"t": {deep}}}\n')
    assert load_dataset(path).rows[0]["t"] == json.loads(deep)


def test_finetune_check_reads_jsonl_the_same_way(tmp_path: Path) -> None:
    from promptkit.export import check_finetune

    row = {
        "messages": [{"role": "user", "content": "a\u2028b"}, {"role": "assistant", "content": "c"}]
    }
    path = tmp_path / "t.jsonl"
    text = json.dumps(row, ensure_ascii=False) + "\n" + "[" * 100_000 + "\n"
    path.write_bytes(text.encode())
    report = check_finetune(path)
    assert [(p.line, p.kind, p.message) for p in report.problems if p.line] == [
        (2, "invalid_json", f"nested deeper than {MAX_DEPTH} levels")
    ]
    path.write_bytes(text.encode() + LATIN1)
    _raises(lambda: check_finetune(path), path, 3, "byte 0xe9")


# -- bytes that are not UTF-8, in every reader ---------------------------------------------

LATIN1 = "café".encode("latin-1")  # b"caf\xe9"


def _bad_bytes(root: Path, reader: str) -> tuple[Path, bytes, Callable[[], object]]:
    """A file for ``reader`` with one Latin-1 byte in it, and how to load it."""
    suite = make_project(root, BASE)
    if reader == "suite":
        return suite, BASE.encode() + b"description: " + LATIN1 + b"\n", lambda: load_suite(suite)
    if reader == "prompt":
        path = root / "prompts" / "cls" / "v3.jinja"
        body = b'{% message "user" %}\n' + LATIN1 + b"\n{% endmessage %}"
        return path, body, lambda: PromptLibrary(root / "prompts").get("cls@v3")
    data = {
        "jsonl": b'{"t": 1}\n{"t": "' + LATIN1 + b'"}\n',
        "csv": b"id,t\n1," + LATIN1 + b"\n",
        "yaml": b"- t: " + LATIN1 + b"\n",
    }[reader]
    path = root / f"d.{reader}"
    return path, data, lambda: load_dataset(path)


@pytest.mark.parametrize("reader", ["jsonl", "csv", "yaml", "suite", "prompt"])
def test_non_utf8_names_file_line_and_byte_offset(tmp_path: Path, reader: str) -> None:
    path, data, load = _bad_bytes(tmp_path, reader)
    path.write_bytes(data)
    offset = data.index(b"\xe9")
    line = data.count(b"\n", 0, offset) + 1
    _raises(load, path, line, f"byte 0xe9 at byte offset {offset}")


def test_non_utf8_scorer_file_and_schema(tmp_path: Path) -> None:
    suite = make_project(tmp_path, BASE + "scorer_files: [mine.py]\n")
    scorer = tmp_path / "evals" / "mine.py"
    scorer.write_bytes(b"x = 1\n# " + LATIN1 + b"\n")
    _raises(lambda: load_suite(suite), scorer, 2, "byte 0xe9 at byte offset 11")
    scorer.write_bytes(b"# -*- coding: latin-1 -*-\nNAME = '" + LATIN1 + b"'\n")
    load_suite(suite)  # a declared encoding is honoured (PEP 263)
    make_project(
        tmp_path, BASE.replace("scorers: [", "scorers: [{json_schema: {schema: s.json}}, ")
    )
    schema = tmp_path / "evals" / "s.json"
    schema.write_bytes(b'{"title": "' + LATIN1 + b'"}')
    _raises(lambda: load_suite(tmp_path / "evals" / "s.yaml"), schema, 1, "byte 0xe9")
    schema.write_text('{"maxLength": ' + "9" * 5000 + "}")
    _raises(lambda: load_suite(tmp_path / "evals" / "s.yaml"), schema, 1, "4300 digits")


# -- YAML: one loader for suites, front matter and YAML datasets ---------------------------

_LAUGHS = 'l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n' + "".join(
    f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, 9)
)
_DEEP_ALIASES = "a0: &a0 [x]\n" + "".join(f"a{i}: &a{i} [[*a{i - 1}]]\n" for i in range(1, 60))

#: (mapping text, line of the error or None for "some line", words in the message)
YAML_BAD = [
    ("a: 1\nb: 2\na: 3\n", 3, "duplicate key 'a' (first on line 1)"),
    ("a: 1\nyes: 2\n", 2, "key 'yes' is read as bool"),
    ("a: 1\n1: x\n", 2, "key '1' is read as int"),
    ("a: 1\n~: x\n", 2, "is read as NoneType"),
    ("a: 1\n? [k]\n: v\n", 2, "read as list"),
    ("a: 1\n<<: {2: x}\n", 2, "read as int"),
    (_LAUGHS, None, f"past {MAX_ALIAS_NODES:,} nodes"),
    ("a: &a [1, *a]\n", 1, "cycle"),
    (_DEEP_ALIASES, None, f"deeper than {MAX_DEPTH}"),
    ("a: " + "[" * 100_000 + "\n", 1, f"nested deeper than {MAX_DEPTH}"),
    ("a: 1\nn: " + "9" * 5000 + "\n", 2, "longer than 4300 digits"),
    ("n: 0x" + "f" * 5000 + "\n", 1, "longer than 4300 digits"),
    ("a: 1\nd: 2024-13-45\n", 2, "month must be in 1..12"),
    ("a: 1\nb: \x00\n", 2, "#x0000 is not allowed"),
    ('a: "\\ud800"\n', 1, "lone surrogate"),
    ('a: 1\nb: "\\U99999999"\n', 2, "past Unicode's last character"),
    ('a: 1\nb: "\\U00110000"\n', 2, "past Unicode's last character"),
    ("a: 1\n---\nb: 2\n", 2, "expected a single document"),
]


def _suite_with(root: Path, body: str) -> tuple[Path, Callable[[], object], int]:
    suite = make_project(root, body)
    return suite, lambda: load_suite(suite), 0


def _front_matter_with(root: Path, body: str) -> tuple[Path, Callable[[], object], int]:
    path = write(root / "prompts" / "f" / "v1.jinja", f"---\n{body}---\n{PROMPT.split('---')[2]}")
    return path, lambda: PromptLibrary(root / "prompts").get("f"), 1


def _yaml_rows_with(root: Path, body: str) -> tuple[Path, Callable[[], object], int]:
    first, *rest = body.splitlines(keepends=True)  # the mapping as the first row
    rest = [x if x.startswith("---") else "  " + x for x in rest]
    path = write(root / "d.yaml", "".join(["- " + first, *rest]))
    return path, lambda: load_dataset(path), 0


YAML_CASES = [
    (reader, *case)
    for reader in (_suite_with, _front_matter_with, _yaml_rows_with)
    for case in YAML_BAD
    if not (reader is _front_matter_with and "---" in case[0])  # '---' ends front matter
]


@pytest.mark.parametrize(("reader", "body", "line", "words"), YAML_CASES)
def test_yaml_refusals_name_file_and_line(
    tmp_path: Path, reader: Any, body: str, line: int | None, words: str
) -> None:
    path, load, shift = reader(tmp_path, body)
    error = _raises(load, path, None if line is None else line + shift, words)
    assert error.line is not None


def test_yaml_merge_keys_and_modest_anchors_still_work(tmp_path: Path) -> None:
    path = write(
        tmp_path / "d.yaml",
        "- &base {id: a, t: x, tags: &tags [p, q]}\n- {<<: *base, id: b, tags: *tags}\n",
    )
    rows = load_dataset(path, id_column="id").rows
    assert [dict(r.data) for r in rows] == [
        {"id": "a", "t": "x", "tags": ["p", "q"]},
        {"id": "b", "t": "x", "tags": ["p", "q"]},
    ]
    assert [r.line for r in rows] == [1, 2]


# -- templates Jinja parses but Python cannot compile ---------------------------------------

MESSAGE = '{%% message "user" %%}%s{%% endmessage %%}'
TEMPLATES_BAD = [
    ("{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}", "nest too deeply"),
    ("{{ x" + ".a" * 5000 + " }}", "nest too deeply"),
    ("{% for x in y %}" * 25 + "{% endfor %}" * 25, "blocks nest too deeply"),
    ("{% if x %}" * 120 + "{% endif %}" * 120, "blocks nest too deeply"),
    ("{{ " + "9" * 5000 + " }}", "a number cannot be read"),
]


@pytest.mark.parametrize(("body", "words"), TEMPLATES_BAD)
def test_uncompilable_templates_are_bad_input(tmp_path: Path, body: str, words: str) -> None:
    path = write(tmp_path / "prompts" / "f" / "v1.jinja", MESSAGE % body)
    _raises(lambda: PromptLibrary(tmp_path / "prompts").get("f"), path, None, words)


# -- null values where a case needs one ------------------------------------------------------

NULLS = [
    ("rows.jsonl", 3, '{"id": "r2", "text": null, "label": "pos"}', "null in column 'text'"),
    ("rows.jsonl", 3, '{"id": "r2", "text": "t", "label": null}', "null in column 'label'"),
    ("pool.jsonl", 3, '{"id": "p2", "text": null, "label": "pos"}', "null in column 'text'"),
]


@pytest.mark.parametrize(("file", "line", "row", "words"), NULLS)
def test_null_input_or_reference_is_refused_at_load(
    tmp_path: Path, file: str, line: int, row: str, words: str
) -> None:
    suite = make_project(tmp_path, BASE)
    path = tmp_path / "datasets" / file
    lines = path.read_text().splitlines()
    lines[line - 1] = row
    path.write_text("\n".join(lines) + "\n")
    _raises(lambda: load_suite(suite), path, line, words)


def test_null_in_a_yaml_dataset_names_its_line(tmp_path: Path) -> None:
    suite = make_project(tmp_path, BASE.replace("rows.jsonl", "rows.yaml"))
    rows = "".join(f"- id: r{i}\n  text: row {i}\n  label: pos\n" for i in range(3))
    path = write(tmp_path / "datasets" / "rows.yaml", rows + "- id: r3\n  text:\n  label: neg\n")
    _raises(lambda: load_suite(suite), path, 10, "null in column 'text'")


def test_an_empty_csv_cell_or_blank_text_in_a_needed_column_is_refused(tmp_path: Path) -> None:
    # CSV has no null: an empty cell is a missing value, not an input of "" to send.
    suite = make_project(tmp_path, BASE.replace("rows.jsonl", "rows.csv"))
    path = write(tmp_path / "datasets" / "rows.csv", "id,text,label\nr0,row 0,pos\nr1,,neg\n")
    _raises(lambda: load_suite(suite), path, 3, "an empty value in column 'text'")
    write(path, "id,text,label\nr0,row 0,pos\nr1,row 1,\n")
    _raises(lambda: load_suite(suite), path, 3, "an empty value in column 'label'")
    jsonl = make_project(tmp_path, BASE)
    rows = tmp_path / "datasets" / "rows.jsonl"
    rows.write_text(rows.read_text() + '{"id": "z", "text": "  ", "label": "pos"}\n')
    _raises(lambda: load_suite(jsonl), rows, 7, "an empty value in column 'text'")


def test_cli_refuses_before_any_call(cli: Any, tmp_path: Path) -> None:
    suite = make_project(tmp_path, BASE)
    rows = tmp_path / "datasets" / "rows.jsonl"
    rows.write_text(rows.read_text() + '{"id": "z", "text": "t", "label": null}\n')
    code, _, err = cli("eval", str(suite), "--quiet")
    assert code == 2
    assert err.strip() == (
        f"promptkit: error: {rows}:7: row 'z' has null in column 'label' (needed by suite "
        f"{suite}) (fill in the value or remove the row)"
    )
    assert not (tmp_path / ".promptkit" / "runs").exists()
    suite.write_bytes(_LAUGHS.encode())
    code, _, err = cli("eval", str(suite), "--quiet")
    assert code == 2 and err.startswith(f"promptkit: error: {suite}:") and "alias" in err


def test_macro_f1_refuses_a_reference_outside_the_classes() -> None:
    with pytest.raises(ValueError, match=r"references must be classes 0\.\.1"):
        macro_f1_interval([0, 2], [0, 1], n_classes=2)
    with pytest.raises(ValueError, match="every reference needs its prediction"):
        macro_f1_interval([0, 1], [0], n_classes=2)


def test_summary_leaves_out_rows_without_a_reference() -> None:
    import pandas as pd

    from promptkit.results.summary import summarize

    frame = pd.DataFrame(
        {
            "variant": ["v"] * 4,
            "prompt": ["p@v1"] * 4,
            "model": ["mock/m"] * 4,
            "shots": [0] * 4,
            "row_id": ["a", "b", "c", "d"],
            "expected": ["pos", "neg", None, "pos"],
            "parsed": ["pos", "pos", "neg", None],
            "error": [None] * 4,
            "score.label_accuracy": [1.0, 0.0, 0.0, 0.0],
        }
    )
    report = summarize(frame, ["label_accuracy"])[0].classification
    assert report is not None
    assert (report.rows, report.unlabelled, report.labels) == (3, 1, ["neg", "pos"])
    assert report.accuracy == pytest.approx(1 / 3)
    assert report.confusion == {
        "neg": {"neg": 0, "pos": 1, "(none)": 0},
        "pos": {"neg": 0, "pos": 1, "(none)": 1},
    }


# -- paths in a suite that no file can have ----------------------------------------------------

IMPOSSIBLE_PATHS = [
    ("dataset: {path: ../datasets/rows.jsonl, id: id}", "dataset: " + "d" * 5000, "not found"),
    ("dataset: {path: ../datasets/rows.jsonl, id: id}", 'dataset: "r\\0.jsonl"', "not found"),
    ("examples: ../datasets/pool.jsonl", 'examples: "p\\0.jsonl"', "not found"),
    ("prompts: [cls@v1, cls@v2, plain]", "prompts: [" + "f" * 5000 + "]", "unknown prompt"),
    ("prompts: [cls@v1, cls@v2, plain]", 'prompts_dir: "x\\0"\nprompts: [cls]', "unknown prompt"),
    ("models: [mock/echo]", 'scorer_files: ["s\\0.py"]', "not found"),
]


@pytest.mark.parametrize(("old", "new", "words"), IMPOSSIBLE_PATHS)
def test_impossible_paths_are_not_found(tmp_path: Path, old: str, new: str, words: str) -> None:
    suite = make_project(tmp_path, BASE.replace(old, new))
    with pytest.raises(BadInput, match=words) as info:
        load_suite(suite)
    assert info.value.path and "\n" not in str(info.value)  # the suite, or the missing file
