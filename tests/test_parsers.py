from __future__ import annotations

import pytest

from promptkit import PromptError, make_parser


def label_parser() -> object:
    return make_parser(
        {
            "type": "label",
            "labels": ["positive", "negative"],
            "aliases": {"positivo": "positive", "negativo": "negative"},
        }
    )


@pytest.mark.parametrize(
    ("reply", "label"),
    [
        ("positive", "positive"),
        ("The review is positive, but the delivery was slow.", "positive"),
        ("NEGATIVE.", "negative"),
        ("Sentimento: Negativo", "negative"),
        ("I'd say it's positivo!", "positive"),
        ("non-negative numbers", None),
        ("", None),
        ("It is neither.", None),
    ],
)
def test_label_found_in_verbose_reply(reply: str, label: str | None) -> None:
    parsed = label_parser().parse(reply)  # type: ignore[attr-defined]
    assert parsed.value == label
    assert (parsed.error is None) == (label is not None)


def test_label_accents_and_case_fold() -> None:
    parser = make_parser({"type": "label", "labels": ["agendar_reunião"]})
    assert parser.parse("Intent: AGENDAR_REUNIAO").value == "agendar_reunião"


def test_json_parser_reads_fenced_and_embedded_json() -> None:
    parser = make_parser({"type": "json", "field": "answer"})
    assert parser.parse('Sure!\n```json\n{"answer": 4}\n```').value == 4
    assert parser.parse('Here: {"answer": "yes"} ok').value == "yes"
    assert parser.parse("no json").error == "no JSON value in the reply"
    assert parser.parse('{"other": 1}').error == "JSON reply has no field 'answer'"
    assert make_parser({"type": "json"}).parse("[1, 2]").value == [1, 2]


def test_regex_and_text_parsers() -> None:
    assert (
        make_parser({"type": "regex", "pattern": r"rating: (\d)", "group": 1})
        .parse("Rating: 4/5")
        .value
        == "4"
    )
    assert (
        make_parser({"type": "regex", "pattern": "[1-5]"}).parse("I give it 3 stars").value == "3"
    )
    assert make_parser({"type": "text"}).parse("  hi \n").value == "hi"


def test_bad_parser_specs() -> None:
    with pytest.raises(PromptError, match="unknown parser type 'xml'"):
        make_parser({"type": "xml"})
    with pytest.raises(PromptError, match="parser 'label' needs 'labels'"):
        make_parser({"type": "label"})
    with pytest.raises(PromptError, match="bad parser regex"):
        make_parser({"type": "regex", "pattern": "("})
