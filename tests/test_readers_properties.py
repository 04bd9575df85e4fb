"""Property tests of the readers of suites, prompt files and datasets: any bytes, and
near-valid files with a few bytes changed, give either the parsed object or one
BadInput line with the file's path, never another exception."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptkit import BadInput, PromptLibrary, load_dataset, load_suite
from promptkit.define.datasets import row_hash
from tests.test_suite import BASE, PROMPT, make_project

# derandomize: CI runs the same examples every time, so a failure reproduces
PROPERTY = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

#: Byte sequences that matter to one reader or another, spliced into valid files.
TOKENS = [
    *(c.encode() for c in "\"',:[]{}-&*!?|>#%@`~\\\t\n\r "),
    b"\x00",
    b"\xff",
    b"\xe9",
    b"\xc3",
    "\u2028".encode(),
    "\x85".encode(),
    b"\x0c",
    b"\xef\xbb\xbf",
    b"null",
    b"yes",
    b"---\n",
    b"&a ",
    b"*a",
    b"<<: ",
    b"9" * 5000,
    b"[" * 200,
    b'"\\ud800"',
    b"2024-13-45",
    b"{{ ",
    b" }}",
    b"{% ",
    b" %}",
    b"{% endmessage %}",
]


@st.composite
def near(draw: st.DrawFn, valid: bytes) -> bytes:
    """``valid`` with one to four insertions, deletions, replacements or repeats."""
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["insert", "delete", "replace", "repeat"]))
        if op == "insert":
            data[at:at] = draw(st.sampled_from(TOKENS))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 12))]
        elif op == "replace":
            data[at : at + 1] = draw(st.sampled_from(TOKENS) | st.binary(min_size=1, max_size=3))
        else:
            data[at:at] = data[at : at + draw(st.integers(1, 40))] * draw(st.integers(2, 4))
    return bytes(data)


def parsed_or_bad_input(load: Callable[[], object], path: Path | None = None) -> None:
    """``load`` returns, or raises one BadInput line naming a file (``path`` if given)."""
    try:
        load()
    except BadInput as exc:
        assert exc.path, f"a BadInput without a path: {exc!r}"
        assert path is None or exc.path == str(path), f"{exc} does not name {path}"
        assert "\n" not in str(exc) and "\r" not in str(exc), f"not one line: {exc!r}"


# -- datasets ------------------------------------------------------------------------------

TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\ufeff"), max_size=12)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=20,
)
ROWS = st.lists(st.dictionaries(TEXT, VALUES, min_size=1, max_size=4), max_size=6)


@st.composite
def csv_rows(draw: st.DrawFn) -> list[dict[str, str]]:
    header = draw(st.lists(TEXT, min_size=1, max_size=4, unique=True))
    row = st.lists(TEXT, min_size=len(header), max_size=len(header))
    return [dict(zip(header, values, strict=True)) for values in draw(st.lists(row, max_size=6))]


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()


def _csv(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(list(rows[0]) if rows else ["t"])
    writer.writerows(list(r.values()) for r in rows)
    return out.getvalue().encode()


def _yaml(rows: list[dict[str, Any]]) -> bytes:
    # escaped: PyYAML's emitter writes U+0085 and U+2028 raw, and YAML reads them as breaks
    return yaml.safe_dump(rows).encode()


WRITERS = {".jsonl": _jsonl, ".csv": _csv, ".yaml": _yaml}
SAMPLE = [
    {"id": "a", "text": "first, with a comma", "label": "pos", "n": "1"},
    {"id": "b", "text": 'a "quoted"\nline', "label": "neg", "n": "2"},
]


@pytest.mark.parametrize("suffix", list(WRITERS))
@PROPERTY
@given(data=st.binary(max_size=400))
def test_dataset_reader_on_any_bytes(tmp_path: Path, suffix: str, data: bytes) -> None:
    path = tmp_path / f"d{suffix}"
    path.write_bytes(data)
    parsed_or_bad_input(lambda: load_dataset(path), path)


@pytest.mark.parametrize("suffix", list(WRITERS))
@PROPERTY
@given(data=st.data())
def test_dataset_reader_on_near_valid_files(tmp_path: Path, suffix: str, data: Any) -> None:
    path = tmp_path / f"d{suffix}"
    path.write_bytes(data.draw(near(WRITERS[suffix](SAMPLE))))
    parsed_or_bad_input(lambda: load_dataset(path), path)


@pytest.mark.parametrize("suffix", list(WRITERS))
@settings(PROPERTY, max_examples=100)
@given(data=st.data())
def test_valid_datasets_come_back_unaltered(tmp_path: Path, suffix: str, data: Any) -> None:
    """What the standard writer of each format wrote is read back value for value."""
    rows = data.draw(csv_rows() if suffix == ".csv" else ROWS)
    path = tmp_path / f"d{suffix}"
    path.write_bytes(WRITERS[suffix](rows))
    if not rows or len({row_hash(r) for r in rows}) < len(rows):
        with pytest.raises(BadInput, match=r"no rows|duplicate row"):
            load_dataset(path)
        return
    assert [dict(r.data) for r in load_dataset(path)] == rows


# -- suites --------------------------------------------------------------------------------


@PROPERTY
@given(data=st.binary(max_size=400))
def test_suite_reader_on_any_bytes(tmp_path: Path, data: bytes) -> None:
    suite = make_project(tmp_path, BASE)
    suite.write_bytes(data)
    parsed_or_bad_input(lambda: load_suite(suite))


@PROPERTY
@given(data=near(BASE.encode()))
def test_suite_reader_on_near_valid_suites(tmp_path: Path, data: bytes) -> None:
    suite = make_project(tmp_path, BASE)
    suite.write_bytes(data)
    parsed_or_bad_input(lambda: load_suite(suite))


# -- prompt files --------------------------------------------------------------------------


@PROPERTY
@given(data=st.binary(max_size=400))
def test_prompt_reader_on_any_bytes(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "prompts" / "f" / "v1.jinja"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    parsed_or_bad_input(lambda: PromptLibrary(tmp_path / "prompts").get("f"), path)


@PROPERTY
@given(data=near(PROMPT.encode()))
def test_prompt_reader_on_near_valid_prompts(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "prompts" / "f" / "v1.jinja"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    parsed_or_bad_input(lambda: PromptLibrary(tmp_path / "prompts").get("f"), path)
