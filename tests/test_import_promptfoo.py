"""``promptkit import promptfoo``: realistic configs converted, checked and evaluated.

The converted suites run on ``mock/echo`` (the reply is the rendered user message), so
each assertion's expected pass or fail follows from the prompt and the row.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from promptkit import Case
from promptkit.importers.nunjucks import to_jinja
from promptkit.providers.base import Request
from promptkit.providers.mock import register_mock
from promptkit.scorers import make_scorer
from promptkit.scorers.text import edit_distance
from tests.conftest import write

FIXTURES = Path(__file__).parent / "fixtures" / "promptfoo"
Cli = Callable[..., tuple[int, str, str]]


def _convert(cli: Cli, config: Path, out: Path, *extra: str) -> tuple[str, str]:
    code, stdout, stderr = cli("import", "promptfoo", str(config), "-o", str(out), *extra)
    assert code == 0, stderr
    return stdout, stderr


def _scores(cli: Cli, suite: Path, monkeypatch: pytest.MonkeyPatch) -> dict[tuple[str, str], Any]:
    """Run ``suite`` on mock/echo from its project folder: (prompt, row id) -> scores."""
    monkeypatch.chdir(suite.parent.parent)
    code, _, stderr = cli("eval", str(suite), "--model", "mock/echo")
    assert code == 0, stderr
    (journal,) = (suite.parent.parent / ".promptkit" / "runs").glob("*/journal.jsonl")
    rows = [json.loads(line) for line in journal.read_text().splitlines()]
    shutil.rmtree(journal.parent)  # the next run's journal is then the only one
    for row in rows:
        assert row["error"] is None, row["error"]
    return {(row["prompt"], row["row_id"]): row["scores"] for row in rows}


def _check(cli: Cli, out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(out)
    code, stdout, stderr = cli("check")
    assert code == 0, stdout + stderr


def test_capitals_prompts_providers_and_per_test_values(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    _, stderr = _convert(cli, FIXTURES / "capitals" / "promptfooconfig.yaml", out)
    # the family is named after the folder, not promptfoo's conventional file name
    text_prompt = (out / "prompts" / "capitals_1" / "v1.jinja").read_text()
    assert (
        '{% message "user" %}Answer briefly: what is the capital of {{ country }}?' in text_prompt
    )
    chat = (out / "prompts" / "capitals_2" / "v1.jinja").read_text()
    assert chat.index('{% message "system" %}You are a geography tutor') < chat.index(
        '{% message "user" %}What is the capital'
    )
    suite = yaml.safe_load((out / "evals" / "capitals.yaml").read_text())
    assert suite["models"] == [
        "openai/gpt-4o-mini",
        {
            "name": "oai/llama3",
            "api_base": "http://127.0.0.1:8000/v1",
            "params": {"temperature": 0, "max_tokens": 64},
        },
        "anthropic/claude-3-5-haiku-20241022",
        "ollama/llama3.2",
    ]
    # nothing dropped silently: the unsupported provider and the javascript check, with lines
    config = FIXTURES / "capitals" / "promptfooconfig.yaml"
    assert f"{config}:16: not converted: provider: 'bedrock:anthropic.claude-v2'" in stderr
    assert f"{config}:47: not converted: assertion type 'javascript'" in stderr
    rows = [json.loads(line) for line in (out / "datasets" / "capitals.jsonl").open()]
    assert [row["assert_2"] for row in rows] == ["France", "Japan", "Lima"]  # "{{ country }}"
    _check(cli, out, monkeypatch)
    scores = _scores(cli, out / "evals" / "capitals.yaml", monkeypatch)
    for prompt in ("capitals_1@v1", "capitals_2@v1"):
        assert scores[(prompt, "test1")] == {"latency_1": 1.0, "contains_2": 1.0, "contains_3": 1.0}
        assert scores[(prompt, "test2")]["contains_2"] == 1.0
        assert scores[(prompt, "test3")]["contains_2"] == 0.0  # "Lima" is not in the echo
    # the format test has other assertions, so it has a suite of its own
    formats = _scores(cli, out / "evals" / "capitals_2.yaml", monkeypatch)
    assert formats[("capitals_1@v1", "test4")] == {
        "latency_1": 1.0,
        "starts_with_2": 1.0,
        "regex_3": 1.0,
    }
    assert formats[("capitals_2@v1", "test4")]["starts_with_2"] == 0.0


def test_csv_tests_expected_columns_and_secrets(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    _, stderr = _convert(cli, FIXTURES / "support" / "promptfooconfig.yaml", out)
    assert "sk-not-a-real-key" not in "".join(p.read_text() for p in out.rglob("*.*"))
    assert "not converted: provider config 'apiKey'" in stderr
    assert "cases.csv:6: not converted: assertion type 'javascript'" in stderr
    suite = yaml.safe_load((out / "evals" / "support.yaml").read_text())
    assert suite["models"] == [{"name": "openai/gpt-4o", "params": {"temperature": 0.2}}]
    _check(cli, out, monkeypatch)
    equals = _scores(cli, out / "evals" / "support.yaml", monkeypatch)
    assert equals[("support@v1", "test1")] == {"exact_match_1": 1.0}
    assert equals[("support@v1", "test2")] == {"exact_match_1": 0.0}  # a typo is not equal
    icontains = _scores(cli, out / "evals" / "support_3.yaml", monkeypatch)
    assert icontains[("support@v1", "test4")] == {"contains_1": 1.0}  # "CALM: Can I..."


def test_structured_json_keywords_judge_and_nunjucks(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    _, stderr = _convert(cli, FIXTURES / "structured.yaml", out)
    assert "structured.yaml:14: not converted: defaultTest option 'transform'" in stderr
    assert "structured_tests.yaml:37: not converted: assertion type 'python'" in stderr
    second = (out / "prompts" / "structured_2" / "v1.jinja").read_text()
    assert '{% elif lang == "es" %}' in second and "payload | tojson(2)" in second
    suite_path = out / "evals" / "structured.yaml"
    suite = yaml.safe_load(suite_path.read_text())
    judge = suite["scorers"][1]["llm_judge"]
    assert judge["model"] == "ollama/qwen2.5"  # defaultTest.options.provider
    judge["model"] = "mock/pf-judge"
    suite_path.write_text(yaml.safe_dump(suite, sort_keys=False))

    def verdict(request: Request) -> str:
        asked = str(request.messages[-1].content)
        return "VERDICT: PASS" if "order" in asked else "VERDICT: FAIL"

    register_mock("pf-judge", verdict)
    _check(cli, out, monkeypatch)
    scores = _scores(cli, suite_path, monkeypatch)
    assert scores[("structured_1@v1", "test1")] == {
        "json_valid_1": 1.0,
        "llm_judge_2": 1.0,
        "contains_3": 1.0,
        "contains_4": 1.0,
        "json_schema_5": 1.0,
        "cost_6": 1.0,
    }
    second_row = scores[("structured_1@v1", "test2")]
    assert (second_row["contains_3"], second_row["contains_4"]) == (0.0, 0.0)
    # the Portuguese row takes the {% if %} branch; its JSON follows a sentence
    pt = scores[("structured_2@v1", "test2")]
    assert (pt["json_valid_1"], pt["json_schema_5"]) == (0.0, 1.0)
    levenshtein = yaml.safe_load((out / "evals" / "structured_2.yaml").read_text())
    assert levenshtein["reference"] == "assert_4"  # similar reads the reference column
    assert {"semantic_similarity": {"threshold": 0.8, "metric": "semantic_similarity_4"}} in (
        levenshtein["scorers"]
    )


def test_strict_exits_1_and_never_overwrites(cli: Cli, tmp_path: Path) -> None:
    config = FIXTURES / "capitals" / "promptfooconfig.yaml"
    code, _, stderr = cli("import", "promptfoo", str(config), "-o", "a", "--strict")
    assert code == 1 and "2 items not converted" in stderr
    kept = Path("a/evals/capitals.yaml").read_text()
    code, _, stderr = cli("import", "promptfoo", str(config), "-o", "a")
    assert code == 2 and "would overwrite an existing file" in stderr
    assert Path("a/evals/capitals.yaml").read_text() == kept


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- just\n- a list\n", "not a promptfoo config"),
        ("prompts: [hi]\ntests: [{vars: {a: 1}}]\ntests: []\n", "duplicate key"),
        ("prompts: ['{{ oops ']\ntests: [{vars: {a: 1}}]\n", "no prompt could be converted"),
        ("prompts: [hi]\ntests: 3\n", "tests must be a list"),
        ("prompts: [hi]\ntests:\n  - vars: file://missing.yaml\n", "vars file"),
    ],
)
def test_garbage_is_one_line_and_exit_2(cli: Cli, tmp_path: Path, text: str, message: str) -> None:
    config = write(tmp_path / "promptfooconfig.yaml", text)
    code, _, stderr = cli("import", "promptfoo", str(config), "-o", "out")
    assert code == 2
    assert message in stderr and str(config) in stderr
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr
    assert not Path("out").exists()


def test_nunjucks_differences() -> None:
    assert to_jinja("{{ x | dump }}{{ y|dump(2) }}") == "{{ x | tojson }}{{ y|tojson(2) }}"
    assert (
        to_jinja("{% if a %}1{%- elseif b %}2{% endif %}") == "{% if a %}1{%- elif b %}2{% endif %}"
    )
    assert to_jinja("{% verbatim %}{{ k }}{% endverbatim %}") == "{% raw %}{{ k }}{% endraw %}"
    assert to_jinja("{{ name | safe }}") == "{{ name | safe }}"


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [("", "", 0), ("kitten", "sitting", 3), ("abc", "", 3), ("flaw", "lawn", 2), ("olá", "ola", 1)],
)
def test_edit_distance(a: str, b: str, distance: int) -> None:
    assert edit_distance(a, b) == distance == edit_distance(b, a)


def _score(spec: Any, reply: str, row: dict[str, Any]) -> float:
    bound = make_scorer(spec)
    return asyncio.run(bound(Case(output=reply, raw=reply, expected="ref", row=row))).value


@pytest.mark.parametrize(
    ("spec", "reply", "row", "value"),
    [
        ({"contains": {"column": "want"}}, "Lima, Peru", {"want": "lima"}, 1.0),
        ({"contains": {"column": "want", "compare": "exact"}}, "Lima", {"want": "lima"}, 0.0),
        ({"contains": {"column": "want", "compare": "ignore_case"}}, "LIMA", {"want": "lima"}, 1.0),
        ({"contains": {"column": "w", "mode": "all"}}, "a b", {"w": ["a", "c"]}, 0.0),
        ({"contains": {"column": "w", "mode": "all"}}, "a b c", {"w": ["a", "c"]}, 1.0),
        ({"exact_match": {"column": "want", "normalize": False}}, "Lima", {"want": "Lima"}, 1.0),
        ({"exact_match": {"column": "want", "normalize": False}}, "lima", {"want": "Lima"}, 0.0),
        ({"regex": {"column": "p", "ignore_case": False}}, "id 42", {"p": r"\d+$"}, 1.0),
        ({"regex": {"column": "p", "ignore_case": False}}, "ID", {"p": "id"}, 0.0),
        ({"starts_with": {"column": "p"}}, "  Answer: x", {"p": "Answer"}, 1.0),
        ({"starts_with": {"value": "answer"}}, "Answer", {}, 0.0),
        ({"starts_with": {"value": "answer", "compare": "ignore_case"}}, "Answer", {}, 1.0),
        ({"levenshtein": {"column": "w", "max": 1}}, "helo", {"w": "hello"}, 1.0),
        ({"levenshtein": {"column": "w", "max": 1}}, "hxlo", {"w": "hello"}, 0.0),
        ({"levenshtein": {"max": 3}}, "ref", {}, 1.0),  # the reference by default
    ],
)
def test_column_scorers(spec: Any, reply: str, row: dict[str, Any], value: float) -> None:
    assert _score(spec, reply, row) == value


def test_a_missing_column_is_a_scorer_error() -> None:
    with pytest.raises(KeyError, match="no column 'want'"):
        _score({"contains": {"column": "want"}}, "x", {})
    with pytest.raises(ValueError, match="compare must be one of"):  # as 'mode': per case
        _score({"contains": {"compare": "fuzzy"}}, "x", {})
