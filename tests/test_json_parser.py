"""The json parser explains itself: repairs are marked, choices stated, cut-off replies said."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promptkit import Completion, PromptError, Request, evaluate, make_parser, register_mock
from tests.conftest import write

ORDER = {"order_id": "A-17", "date": "2024-03-02"}


@pytest.mark.parametrize(
    ("reply", "repaired"),
    [
        ("{'order_id': 'A-17', 'date': '2024-03-02'}", "single quotes"),
        ('{"order_id": "A-17", "date": "2024-03-02",}', "trailing commas"),
        ('Here: {"order_id": "A-17", "date": "2024-03-02"', "1 unclosed bracket(s)"),
    ],
)
def test_repair_reads_near_json_and_says_what_it_repaired(reply: str, repaired: str) -> None:
    strict = make_parser({"type": "json"}).parse(reply)
    assert strict.value is None and strict.error  # never accepted silently
    parsed = make_parser({"type": "json", "repair": True}).parse(reply)
    assert parsed.value == ORDER and parsed.error is None
    assert (
        parsed.note is not None and parsed.note.startswith("repaired:") and repaired in parsed.note
    )


def test_an_unclosed_object_is_named_and_a_cut_string_marked_when_repaired() -> None:
    reply = 'Sure: {"order_id": "A-17", "date": "2024'
    assert "unclosed JSON object" in (make_parser("json").parse(reply).error or "")
    parsed = make_parser({"type": "json", "repair": True}).parse(reply)
    assert parsed.value == {"order_id": "A-17", "date": "2024"}
    assert parsed.note == "repaired: an unclosed string, 1 unclosed bracket(s)"


def test_several_values_the_pick_is_stated() -> None:
    reply = 'First {"id": 1} then {"id": 2, "extra": true} and [3]'
    for pick, value in (("first", {"id": 1}), ("last", [3]), ("largest", {"id": 2, "extra": True})):
        parsed = make_parser({"type": "json", "pick": pick}).parse(reply)
        assert parsed.value == value
        assert parsed.note == f"3 JSON values in the reply: took the {pick} (pick)"
    assert make_parser("json").parse('{"id": 1}').note is None  # one value: nothing to say


def test_bad_json_parser_options_are_refused() -> None:
    with pytest.raises(PromptError, match="pick"):
        make_parser({"type": "json", "pick": "middle"})
    with pytest.raises(PromptError, match="repair"):
        make_parser({"type": "json", "repair": "yes"})


@given(st.text(max_size=200))
def test_any_text_gives_a_value_or_an_error_never_an_exception(text: str) -> None:
    for spec in ({"type": "json"}, {"type": "json", "repair": True, "pick": "largest"}):
        parsed = make_parser(spec).parse(text)
        assert parsed.value is not None or parsed.error  # a value, or a reason there is none


def test_a_cut_off_reply_says_so_in_the_journal(tmp_path: Path) -> None:
    def answer(request: Request) -> Completion:
        if "r0" in request.messages[-1].content:  # cut off by the token limit
            return Completion(
                text='{"order_id": "A-17", "date": "20',
                completion_tokens=12,
                finish_reason="length",
            )
        return Completion(text=json.dumps(ORDER), completion_tokens=12, finish_reason="stop")

    register_mock("cut", answer)
    write(
        tmp_path / "prompts" / "order" / "v1.jinja",
        '---\nparser: {type: json, repair: true}\n---\n{% message "user" %}{{ text }}{% endmessage %}',
    )
    write(
        tmp_path / "datasets" / "rows.jsonl",
        '{"id": "r0", "text": "r0"}\n{"id": "r1", "text": "r1"}\n',
    )
    suite = write(
        tmp_path / "evals" / "s.yaml",
        "dataset: {path: ../datasets/rows.jsonl, id: id}\ninputs: [text]\nprompts: [order@v1]\n"
        "models: [mock/cut]\nscorers: [json_valid]\n",
    )
    run = evaluate(suite)
    rows = {
        r["row_id"]: r
        for r in map(json.loads, (run.path / "journal.jsonl").read_text().splitlines())
    }
    assert rows["r0"]["parsed"] == {"order_id": "A-17", "date": "20"}
    assert rows["r0"]["parse_note"] == (
        "repaired: an unclosed string, 1 unclosed bracket(s); "
        "the reply was cut off by max_tokens after 12 tokens"
    )
    assert rows["r1"]["parse_note"] is None and rows["r1"]["parsed"] == ORDER
