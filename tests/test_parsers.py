from __future__ import annotations

import re

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
    with pytest.raises(
        PromptError,
        match=re.escape("'parser.type' must be one of text, label, json, regex, not 'xml'"),
    ):
        make_parser({"type": "xml"})
    with pytest.raises(PromptError, match="parser 'label' needs 'labels'"):
        make_parser({"type": "label"})
    with pytest.raises(
        PromptError, match=re.escape("'parser.pattern' is not a valid regular expression")
    ):
        make_parser({"type": "regex", "pattern": "("})
    with pytest.raises(PromptError, match=re.escape("unknown label parser key 'parser.strict'")):
        make_parser({"type": "label", "labels": ["a", "b"], "strict": True})


TRIAGE = ["urgente", "normal", "baixa"]


@pytest.mark.parametrize(
    ("reply", "label", "error"),
    [
        ("normal", "normal", None),
        ("Normal. Definitely normal.", "normal", None),  # one label, said twice
        ("urgente, normal, baixa", None, "ambiguous: mentions urgente, normal and baixa"),
        ("Either baixa or normal", None, "ambiguous: mentions baixa and normal"),
        ("not normal", None, "no label of ['urgente', 'normal', 'baixa'] in the reply, only "),
        ("Não urgente, é normal.", "normal", None),
        # 'não é X' is left alone: without accents 'e' is also 'and' ('urgente e normal')
        ("Não é urgente, é normal.", None, "ambiguous: mentions urgente and normal"),
        ("It is not urgente but baixa", "baixa", None),
        ("This isn't urgente; baixa", "baixa", None),
        ("no urgente", None, "only 'not urgente'"),
        ("cannot normal", "normal", None),  # 'not' inside a word is no negation
    ],
)
def test_label_mentions_negation_and_ambiguity(
    reply: str, label: str | None, error: str | None
) -> None:
    parsed = make_parser({"type": "label", "labels": TRIAGE}).parse(reply)
    assert parsed.value == label
    if error is None:
        assert parsed.error is None
    else:
        assert parsed.error is not None and error in parsed.error, parsed.error


def test_pick_first_or_last_takes_one_of_several_mentions() -> None:
    reply = "urgente, normal, baixa"
    first = make_parser({"type": "label", "labels": TRIAGE, "pick": "first"})
    last = make_parser({"type": "label", "labels": TRIAGE, "pick": "last"})
    assert first.parse(reply).value == "urgente"
    assert last.parse(reply).value == "baixa"
    assert first.parse("not urgente, baixa or normal").value == "baixa"  # negated is no mention


def test_alias_and_its_label_are_one_mention() -> None:
    parser = label_parser()
    assert parser.parse("Positivo (positive)").value == "positive"  # type: ignore[attr-defined]
    assert parser.parse("positive or negative").error == (  # type: ignore[attr-defined]
        "ambiguous: mentions positive and negative"
    )


def test_a_negation_word_that_is_a_label_stays_a_label() -> None:
    parser = make_parser({"type": "label", "labels": ["yes", "no"]})
    assert parser.parse("No.").value == "no"
    assert parser.parse("not yes").value is None
    assert parser.parse("no yes").error == "ambiguous: mentions no and yes"


def test_label_parser_knows_what_it_can_produce() -> None:
    assert make_parser({"type": "label", "labels": TRIAGE}).outputs == frozenset(TRIAGE)
    assert make_parser({"type": "regex", "pattern": "[1-5]"}).outputs is None
    numbers = make_parser({"type": "label", "labels": [1, 2, 3]})
    assert numbers.parse("I'd give it 2").value == "2"
