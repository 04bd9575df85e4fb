"""Reasoning before the answer: the parser reads after a marker, the reasoning is kept,
its token cost is measured per variant, and export can train on it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from promptkit import Request, evaluate, load_run, make_parser, register_mock
from promptkit.errors import PromptError
from promptkit.results.reasoning import reasoning_tradeoffs
from tests.conftest import CliResult, write


@pytest.mark.parametrize(
    ("spec", "reply", "value", "reasoning"),
    [
        (
            {"type": "label", "labels": ["pos", "neg"], "answer_after": "Answer:"},
            "It says neg things, but pos overall.\nanswer: pos",
            "pos",
            "It says neg things, but pos overall.",
        ),
        (  # the last marker counts: a model may mention it while reasoning
            {"type": "text", "answer_after": "Answer:"},
            "The Answer: is not obvious.\nAnswer: 42",
            "42",
            "The Answer: is not obvious.",
        ),
        (
            {"type": "regex", "pattern": r"\d+", "answer_after": {"pattern": r"final\s*=\s*"}},
            "3 + 4 is 7, times 2.\nFINAL = 14",
            "14",
            "3 + 4 is 7, times 2.",
        ),
        (
            {"type": "text", "answer_after": {"line": "last"}},
            "step one\n\nstep two\nthe end\n\n",
            "the end",
            "step one\nstep two",
        ),
    ],
)
def test_the_answer_is_read_after_the_reasoning(
    spec: dict[str, object], reply: str, value: str, reasoning: str
) -> None:
    parsed = make_parser(spec).parse(reply)
    assert (parsed.value, parsed.error, parsed.reasoning) == (value, None, reasoning)


def test_a_reply_without_the_marker_has_no_answer() -> None:
    parser = make_parser({"type": "label", "labels": ["pos", "neg"], "answer_after": "Answer:"})
    parsed = parser.parse("I think it is pos.")  # a label, but not where the answer goes
    assert parsed.value is None and parsed.error is not None
    assert "no 'Answer:' in the reply" in parsed.error
    assert parser.outputs == frozenset({"pos", "neg"})  # preflight still sees the labels


@pytest.mark.parametrize(
    ("after", "message"),
    [
        ("  ", "answer_after"),
        ({"pattern": "(", "line": "last"}, "answer_after"),
        ({"pattern": "("}, "pattern"),
        ({"line": "first"}, "line"),
        ({"marker": "x"}, "unknown answer_after key"),
        (3, "answer_after"),
    ],
)
def test_bad_answer_after_names_the_key(after: object, message: str) -> None:
    with pytest.raises(PromptError, match=message) as info:
        make_parser({"type": "text", "answer_after": after}, path="prompts/p/v1.jinja")
    assert str(info.value).startswith("prompts/p/v1.jinja")


DIRECT = '{% message "user" %}Label: {{ text }}{% endmessage %}'
THINK = """---
parser: {type: label, labels: [pos, neg], answer_after: "Answer:"}
---
{% message "user" %}Think, then write Answer: and the label. {{ text }}{% endmessage %}
"""


def _project(root: Path) -> Path:
    def model(request: Request) -> str:
        text = request.messages[-1].content
        label = "pos" if int(text.rsplit(" ", 1)[-1]) % 2 else "neg"
        if "Think" in text:
            return f"The row's number decides it, so it is {label}.\nAnswer: {label}"
        return label if "0" not in text else "unsure"  # the direct prompt misses some rows

    register_mock("thinker", model)
    write(
        root / "prompts" / "cls" / "v1.jinja",
        "---\nparser: {type: label, labels: [pos, neg]}\n---\n" + DIRECT,
    )
    write(root / "prompts" / "cls" / "v2.jinja", THINK)

    def rows(prefix: str, name: str) -> str:
        return "".join(
            json.dumps(
                {
                    "id": f"{prefix}{i}",
                    "text": f"{name} {i}",
                    "label": "pos" if i % 2 else "neg",
                    "why": f"{name} {i} is {'odd' if i % 2 else 'even'}",
                }
            )
            + "\n"
            for i in range(12)
        )

    write(root / "datasets" / "rows.jsonl", rows("r", "row"))
    write(root / "datasets" / "pool.jsonl", rows("p", "pool"))
    suite = (
        "dataset: {path: ../datasets/rows.jsonl, id: id}\n"
        "examples: {path: ../datasets/pool.jsonl, id: id}\n"
        "inputs: [text]\nreference: label\nprompts: [cls@v1, cls@v2]\n"
        "models: [mock/thinker]\nscorers: [label_accuracy]\n"
    )
    return write(root / "evals" / "s.yaml", suite)


def test_reasoning_is_journaled_and_its_cost_measured(tmp_path: Path) -> None:
    result = evaluate(_project(tmp_path))
    frame = load_run(result.path)
    thought = frame[frame["prompt"] == "cls@v2"]
    assert thought["reasoning"].str.startswith("The row's number decides it").all()
    assert (thought["reasoning_tokens"] > 0).all()
    assert "reasoning" not in frame[frame["prompt"] == "cls@v1"].dropna(axis=1).columns
    direct, reasoning = result.summaries
    assert direct.reasoning_tokens is None and reasoning.reasoning_tokens
    (tradeoff,) = reasoning_tradeoffs(result.summaries, "label_accuracy")
    assert tradeoff.direct.variant == direct.variant
    assert tradeoff.gain == pytest.approx(1.0 - 10 / 12)  # rows 0 and 10 were missed
    assert tradeoff.extra_tokens == reasoning.completion_tokens - direct.completion_tokens > 0
    assert tradeoff.gain_per_100_tokens == pytest.approx(
        100 * tradeoff.gain / tradeoff.extra_tokens
    )


def test_eval_prints_the_reasoning_tradeoff(tmp_path: Path, cli: Callable[..., CliResult]) -> None:
    _project(tmp_path)
    code, out, _ = cli("eval", "evals/s.yaml", "-q")
    assert code == 0
    assert "Reasoning before the answer" in out and "0.833 -> 1.000" in out and "+0.167" in out


def test_export_writes_the_reasoning_before_the_answer(
    tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    _project(tmp_path)
    code, _, err = cli(
        "export",
        "finetune",
        "evals/s.yaml",
        "--prompt",
        "cls@v2",
        "-o",
        "t.jsonl",
        "--with-reasoning",
        "why",
    )
    assert code == 0, err
    examples = [json.loads(line) for line in Path("t.jsonl").read_text().splitlines()]
    answers = {e["messages"][-1]["content"] for e in examples}
    assert len(examples) == 12 and "pool 0 is even\nAnswer: neg" in answers
    first = examples[0]
    assert (
        make_parser({"type": "label", "labels": ["pos", "neg"], "answer_after": "Answer:"})
        .parse(first["messages"][-1]["content"])
        .value
        == "pos"  # pool 1: odd
    )
    code, _, err = cli(
        "export",
        "finetune",
        "evals/s.yaml",
        "--prompt",
        "cls@v1",
        "-o",
        "u.jsonl",
        "--with-reasoning",
        "why",
    )
    assert code == 2 and "needs cls@v1's parser to read the answer after" in err
    code, _, err = cli(
        "export",
        "finetune",
        "evals/s.yaml",
        "--prompt",
        "cls@v2",
        "-o",
        "u.jsonl",
        "--with-reasoning",
        "nope",
    )
    assert code == 2 and "pool row 'p0' has no reasoning in column 'nope'" in err
    assert not Path("u.jsonl").exists()


def test_a_marker_with_nothing_after_it_is_no_answer() -> None:
    parser = make_parser({"type": "text", "answer_after": "Answer:"})
    parsed = parser.parse("I think it is Paris.\nAnswer:   ")
    assert parsed.value is None and parsed.error == "nothing after the 'Answer:' in the reply"
    assert parsed.reasoning == "I think it is Paris."
