"""Ensembles: virtual variants from the answers of others, with no model call of their own."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from promptkit import (
    Completion,
    ProviderError,
    Request,
    RunOptions,
    SuiteError,
    compare_variants,
    evaluate,
    load_run,
    load_suite,
    register_mock,
)
from promptkit.define.ensembles import EnsembleSpec
from promptkit.results.store import JournalRow
from promptkit.run.ensembles import combine
from tests.conftest import CliResult, write

#: Which rows each prompt version gets right (ids 0..8); elsewhere it answers "neg"
#: (wrong on odd rows) or, for v3 on row 8, nothing readable.
RIGHT = {1: {0, 1, 2, 3, 4}, 2: {0, 1, 2, 5, 6}, 3: {0, 3, 5, 7}}
ENSEMBLES = """ensembles:
  - {name: vote3, of: [cls@v1, cls@v2, cls@v3], rule: majority}
  - {name: all3, of: [cls@v1, cls@v2, cls@v3], rule: unanimous}
  - {name: firstok, of: [cls@v3, cls@v1], rule: first_valid}
"""


CALLS: list[Request] = []


def _project(root: Path, extra: str = ENSEMBLES) -> Path:
    CALLS.clear()
    calls = CALLS

    def model(request: Request) -> str | Completion:
        calls.append(request)
        text = request.messages[-1].content
        version, number = int(text[1]), int(text.rsplit(" ", 1)[-1])
        if version == 3 and number == 8:
            return "I cannot tell."
        label = "pos" if number % 2 else "neg"
        answer = label if number in RIGHT[version] else ("neg" if label == "pos" else "pos")
        return Completion(
            text=answer, prompt_tokens=10 * version, completion_tokens=1, cost=0.001 * version
        )

    register_mock("trio", model)
    for version in (1, 2, 3):
        write(
            root / "prompts" / "cls" / f"v{version}.jinja",
            "---\nparser: {type: label, labels: [pos, neg]}\n---\n"
            f'{{% message "user" %}}v{version} {{{{ text }}}}{{% endmessage %}}',
        )
    rows = "".join(
        json.dumps({"id": f"r{i}", "text": f"row {i}", "label": "pos" if i % 2 else "neg"}) + "\n"
        for i in range(9)
    )
    write(root / "datasets" / "rows.jsonl", rows)
    suite = (
        "dataset: {path: ../datasets/rows.jsonl, id: id}\ninputs: [text]\nreference: label\n"
        "prompts: [cls@v1, cls@v2, cls@v3]\nmodels: [mock/trio]\nscorers: [label_accuracy]\n"
        "prices: {mock/trio: {input_per_1m: 0, output_per_1m: 0}}\n"
    )
    return write(root / "evals" / "s.yaml", suite + extra)


def _row(parsed: Any, *, error: str | None = None, parse_error: str | None = None) -> JournalRow:
    return {  # type: ignore[typeddict-item]
        "parsed": parsed,
        "error": error,
        "parse_error": parse_error,
        "output": str(parsed),
    }


SPEC = EnsembleSpec("e", ("a", "b", "c"), "majority")


@pytest.mark.parametrize(
    ("rule", "answers", "value", "said"),
    [
        ("majority", ["pos", "neg", "pos"], "pos", '2 of 3 members said "pos"'),
        ("majority", ["pos", None, "neg"], None, 'tie between "pos" and "neg" (1 vote(s) each)'),
        ("majority", ["neg", None, None], "neg", '1 of 3 members said "neg"; 2 gave no answer'),
        ("majority", [None, None, None], None, "no member of 3 gave an answer"),
        ("unanimous", ["pos", "pos", "pos"], "pos", "all 3 agreed"),
        ("unanimous", ["pos", "neg", "pos"], None, 'not unanimous: members said "pos", "neg"'),
        ("unanimous", ["pos", None, "pos"], None, "not unanimous: 1 of 3 gave no answer"),
        ("first_valid", [None, "neg", "pos"], "neg", "from b"),
        ("first_valid", [None, None, None], None, "no member of 3 gave an answer"),
    ],
)
def test_rules_on_hand_made_answers(rule: str, answers: list[Any], value: Any, said: str) -> None:
    rows = [_row(a, parse_error=None if a else "no label") for a in answers]
    combined = combine(EnsembleSpec("e", ("a", "b", "c"), rule), rows)
    assert combined.value == value
    assert said == (combined.note if value is not None else combined.parse_error)


def test_a_member_that_errored_gives_no_answer() -> None:
    rows = [_row(None, error="HTTP 500"), _row("pos"), _row("pos")]
    assert combine(SPEC, rows).note == '2 of 3 members said "pos"; 1 gave no answer'


def test_json_answers_vote_by_value_not_by_key_order() -> None:
    rows = [_row({"a": 1, "b": 2}), _row({"b": 2.0, "a": 1}), _row({"a": 3})]
    assert combine(SPEC, rows).value == {"a": 1, "b": 2}


def test_ensembles_are_variants_scored_without_a_call(tmp_path: Path) -> None:
    suite = _project(tmp_path)
    result = evaluate(suite)
    assert len(CALLS) == 3 * 9  # the members' requests only
    by_variant = {s.variant: s for s in result.summaries}
    assert list(by_variant)[-3:] == ["vote3", "all3", "firstok"]
    # majority: rows where at least two of v1, v2, v3 are right
    right = {r for r in range(9) if sum(r in RIGHT[v] for v in RIGHT) >= 2}
    assert by_variant["vote3"].scores["label_accuracy"].mean == pytest.approx(len(right) / 9)
    frame = load_run(result.path)
    firstok = frame[frame["variant"] == "firstok"].set_index("row_id")
    assert firstok.loc["r8", "parse_note"] == "from cls@v1 | mock/trio | k=0"
    all3 = frame[frame["variant"] == "all3"].set_index("row_id")
    assert all3.loc["r0", "parsed"] == "neg" and pd.isna(all3.loc["r1", "parsed"])
    # cost and tokens: the sum of the members'
    vote = by_variant["vote3"]
    assert vote.prompt_tokens == pytest.approx(sum(s.prompt_tokens for s in result.summaries[:3]))
    assert vote.cost == pytest.approx(sum(s.cost or 0 for s in result.summaries[:3]))
    # and it compares like any variant, on the same rows
    comparison = compare_variants(
        frame, "cls@v1 | mock/trio | k=0", frame, "vote3", ["label_accuracy"]
    )
    assert comparison.rows == 9


def test_a_resumed_run_combines_again(tmp_path: Path) -> None:
    suite = _project(tmp_path)
    first = evaluate(suite)
    again = evaluate(suite, RunOptions(resume=first.run_id))
    assert again.path == first.path
    assert [s.cases for s in again.summaries] == [9] * 6


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("ensembles: [{name: e, of: [cls@v9, cls@v1]}]", "member 'cls@v9' names no variant"),
        ("ensembles: [{name: e, of: [cls@v1, cls@v1]}]", "lists 'cls@v1 | mock/trio | k=0' twice"),
        ("ensembles: [{name: e, of: [cls@v1]}]", "a list of at least two variants"),
        ("ensembles: [{name: e, of: [cls@v1, cls@v2], rule: mean}]", "rule"),
        ("ensembles: [{of: [cls@v1, cls@v2]}]", "needs 'name' and 'of'"),
        ("ensembles: [{name: 'a | b', of: [cls@v1, cls@v2]}]", "is not a name"),
        (
            "ensembles: [{name: e, of: [cls@v1, cls@v2], vote: x}]",
            r"unknown ensemble key 'ensembles\[0\]\.vote'",
        ),
        ("ensembles: {name: e}", "a list of"),
    ],
)
def test_bad_ensembles_name_the_file_and_line(tmp_path: Path, extra: str, message: str) -> None:
    suite = _project(tmp_path, extra + "\n")
    with pytest.raises(SuiteError, match=message) as info:
        load_suite(suite)
    assert str(info.value).startswith(f"{suite}:8:")


def test_an_ensemble_whose_members_are_not_run_is_left_out_and_said(
    tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    _project(tmp_path)
    code, out, err = cli("eval", "evals/s.yaml", "--prompt", "cls@v1", "--prompt", "cls@v2", "-q")
    assert code == 0
    assert "ensemble 'vote3' left out: ensemble 'vote3': member 'cls@v3' names no variant" in err
    assert "vote3" not in out and "firstok" not in out


def test_provider_errors_of_every_member_make_an_error_row(tmp_path: Path) -> None:
    register_mock("down", lambda request: (_ for _ in ()).throw(ProviderError("HTTP 400: no")))
    suite = _project(tmp_path)
    suite.write_text(suite.read_text().replace("mock/trio", "mock/down"))
    result = evaluate(suite)
    frame = load_run(result.path)
    vote = frame[frame["variant"] == "vote3"]
    assert vote["error"].str.startswith("every member failed: HTTP 400").all()
