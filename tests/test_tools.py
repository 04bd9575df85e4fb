"""Tool calls: declared in front matter, sent by each provider, carried back, scored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from promptkit import BadInput, Completion, PromptError, RunOptions, evaluate, load_run
from promptkit.define.prompts import PromptLibrary
from promptkit.errors import ProviderError, SuiteError
from promptkit.providers.base import ToolCall, tool_calls_from_openai
from promptkit.run.cache import ResponseCache, cache_key
from promptkit.scorers import Case
from promptkit.scorers.base import ScorerSetup
from promptkit.scorers.tools import expected_calls, tool_call, tool_calls_f1
from tests.conftest import needs_local_model, write
from tests.fake_server import FakeServer, Faults

LOOKUP = {
    "name": "lookup_order",
    "description": "Find an order by its id",
    "parameters": {
        "type": "object",
        "properties": {"order_id": {"type": "string"}, "verbose": {"type": "boolean"}},
        "required": ["order_id"],
    },
}
CANCEL = {
    "name": "cancel_order",
    "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}},
}
BODY = '{% message "user" %}{{ text }}{% endmessage %}\n'


def _prompt(root: Path, front: str, version: int = 1) -> Path:
    return write(root / "prompts" / "orders" / f"v{version}.jinja", f"---\n{front}---\n{BODY}")


def _params(root: Path, version: int = 1) -> dict[str, Any]:
    return dict(PromptLibrary(root / "prompts").get(f"orders@v{version}").meta.params)


def _call(name: str, arguments: Any, id: str = "c1") -> dict[str, Any]:
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": id, "type": "function", "function": {"name": name, "arguments": raw}}


# --- front matter --------------------------------------------------------------------------------


def test_tools_become_the_openai_form_inline_or_from_a_file(tmp_path: Path) -> None:
    _prompt(tmp_path, f"tools: [{json.dumps(LOOKUP)}]\ntool_choice: lookup_order\n")
    write(tmp_path / "prompts" / "orders" / "tools.json", json.dumps([LOOKUP, CANCEL]))
    _prompt(tmp_path, "tools: tools.json\ntool_choice: required\n", version=2)
    openai_form = {"type": "function", "function": LOOKUP}
    write(tmp_path / "prompts" / "orders" / "t.yaml", f"- {json.dumps(openai_form)}\n")
    _prompt(tmp_path, "tools: t.yaml\n", version=3)
    inline, from_file, yaml_file = (_params(tmp_path, v) for v in (1, 2, 3))
    assert inline["tools"] == [openai_form]
    assert inline["tool_choice"] == {"type": "function", "function": {"name": "lookup_order"}}
    assert [t["function"]["name"] for t in from_file["tools"]] == ["lookup_order", "cancel_order"]
    assert from_file["tool_choice"] == "required"
    assert yaml_file["tools"] == [openai_form] and "tool_choice" not in yaml_file


@pytest.mark.parametrize(
    ("front", "words"),
    [
        ('tools: [{name: f, parameters: {type: "nonsense"}}]\n', "invalid JSON Schema"),
        ("tools: [{name: f}, {name: f}]\n", "declared twice"),
        ('tools: [{name: "no spaces"}]\n', "letters, digits"),
        ("tools: [{description: x}]\n", "needs a name"),
        ("tools: [{name: f, paramters: {}}]\n", "paramters"),
        ("tools: []\n", "non-empty list"),
        ("tools: missing.json\n", "not found"),
        ("tools: [{name: f}]\ntool_choice: g\n", "no declared tool"),
        ("tool_choice: auto\n", "without tools"),
        ("params: {tools: []}\ntools: [{name: f}]\n", "belongs to the prompt, not to params"),
    ],
)
def test_bad_tools_are_one_line_naming_the_prompt(tmp_path: Path, front: str, words: str) -> None:
    path = _prompt(tmp_path, front)
    with pytest.raises(PromptError, match=words) as error:
        PromptLibrary(tmp_path / "prompts").get("orders@v1")
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_a_bad_schema_in_a_tools_file_names_that_file(tmp_path: Path) -> None:
    tools = write(
        tmp_path / "prompts" / "orders" / "tools.json", '[{"name": "f", "parameters": 3}]'
    )
    _prompt(tmp_path, "tools: tools.json\n")
    with pytest.raises(PromptError, match="JSON Schema") as error:
        PromptLibrary(tmp_path / "prompts").get("orders@v1")
    assert str(tools) in str(error.value)


def test_editing_the_tools_file_changes_the_hash(tmp_path: Path) -> None:
    tools = write(tmp_path / "prompts" / "orders" / "tools.json", json.dumps([LOOKUP]))
    _prompt(tmp_path, "tools: tools.json\n")
    before = PromptLibrary(tmp_path / "prompts").get("orders@v1").hash
    tools.write_text(json.dumps([CANCEL]))
    assert PromptLibrary(tmp_path / "prompts").get("orders@v1").hash != before


# --- carried back ---------------------------------------------------------------------------------


def test_openai_tool_calls_are_parsed_and_garbage_is_refused() -> None:
    calls = tool_calls_from_openai([_call("f", {"a": 1}), _call("g", "{not json", id="c2")])
    assert calls[0] == ToolCall("f", '{"a": 1}', {"a": 1}, "c1")
    assert calls[1].arguments is None and calls[1].raw_arguments == "{not json"
    assert tool_calls_from_openai(None) == ()
    with pytest.raises(ProviderError, match="without a function name"):
        tool_calls_from_openai([{"function": {"arguments": "{}"}}])


def test_the_cache_keeps_tool_calls_and_its_key_covers_tools(tmp_path: Path) -> None:
    from promptkit import Message, Request

    base = Request("oai/m", (Message("user", "hi"),), {"tools": [{"type": "function"}]})
    other = Request("oai/m", (Message("user", "hi"),), {"tools": [{"type": "x"}]})
    chosen = Request("oai/m", base.messages, {**base.params, "tool_choice": "required"})
    assert len({cache_key(base), cache_key(other), cache_key(chosen)}) == 3
    cache = ResponseCache(tmp_path / "c.sqlite")
    call = ToolCall.parsed("f", '{"a": 1}', id="c1")
    cache.put("k", "oai/m", Completion(text="", tool_calls=(call,)))
    hit = cache.get("k")
    assert hit is not None and hit.tool_calls == (call,) and hit.cached


def _suite(root: Path, model: str, scorers: str, rows: list[dict[str, Any]]) -> Path:
    lines = "".join(json.dumps(r) + "\n" for r in rows)
    write(root / "datasets" / "rows.jsonl", lines)
    return write(
        root / "evals" / "s.yaml",
        "dataset: {path: ../datasets/rows.jsonl, id: id}\ninputs: [text]\n"
        f"prompts: [orders@v1]\nmodels: [{model}]\nreference: calls\nscorers: {scorers}\n",
    )


ROW = {
    "id": "r0",
    "text": "Where is A-1?",
    "calls": [{"name": "lookup_order", "arguments": {"order_id": "A-1"}}],
}


@pytest.mark.parametrize("prefix", ["oai", "openai"])
def test_a_served_model_gets_the_tools_and_its_calls_are_scored(
    tmp_path: Path, prefix: str
) -> None:
    _prompt(tmp_path, f"tools: [{json.dumps(LOOKUP)}, {json.dumps(CANCEL)}]\ntool_choice: auto\n")
    reply = json.dumps([_call("lookup_order", {"order_id": "A-2"})])
    with FakeServer(Faults(tool_calls=reply)) as server:
        model = f"{{name: {prefix}/fake, api_base: '{server.url}'}}"
        suite = _suite(tmp_path, model, "[tool_call, tool_calls_f1]", [ROW])
        run = evaluate(suite, RunOptions(cache=False))
        sent = server.log()[0]
    assert [t["function"]["name"] for t in sent["tools"]] == ["lookup_order", "cancel_order"]
    assert sent["tool_choice"] == "auto"
    journal = json.loads((run.path / "journal.jsonl").read_text().splitlines()[0])
    assert journal["tool_calls"][0]["arguments"] == {"order_id": "A-2"}
    assert journal["scores"] == {"tool_call": 0.0, "tool_calls_f1": 0.0}
    assert journal["score_explanations"]["tool_call"].startswith("lookup_order.order_id: 'A-2'")


def test_a_cached_rerun_gives_the_same_calls_and_scores(tmp_path: Path) -> None:
    _prompt(tmp_path, f"tools: [{json.dumps(LOOKUP)}]\n")
    reply = json.dumps([_call("lookup_order", {"order_id": "A-1"})])
    with FakeServer(Faults(tool_calls=reply)) as server:
        suite = _suite(
            tmp_path, f"{{name: oai/fake, api_base: '{server.url}'}}", "[tool_call]", [ROW]
        )
        first, second = evaluate(suite), evaluate(suite)
        assert len(server.log()) == 1
    frames = [load_run(r.run_id) for r in (first, second)]
    assert [f["score.tool_call"].tolist() for f in frames] == [[1.0], [1.0]]
    assert frames[1]["cached"].tolist() == [True]


def test_a_provider_that_would_ignore_tools_is_refused_before_any_call(
    tmp_path: Path, cli: Any
) -> None:
    path = _prompt(tmp_path, f"tools: [{json.dumps(LOOKUP)}]\n")
    suite = _suite(tmp_path, "hf/smollm2", "[tool_call]", [ROW])
    with pytest.raises(BadInput, match="cannot honour tools") as error:
        evaluate(suite)
    assert str(path) in str(error.value)
    code, _, err = cli("eval", str(suite))
    assert code == 2 and "cannot honour tools" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


# --- scorers --------------------------------------------------------------------------------------


def _case(expected: Any, *calls: ToolCall, schemas: dict[str, Any] | None = None) -> Case:
    completion = Completion(text="", tool_calls=calls)
    return Case(
        output=None,
        raw="",
        expected=expected,
        row={},
        completion=completion,
        tool_schemas=schemas or {},
    )


def _score(mode: str, expected: Any, *calls: ToolCall, f1: bool = False) -> Any:
    factory = tool_calls_f1 if f1 else tool_call
    schemas = {"lookup_order": LOOKUP["parameters"]}
    return factory(ScorerSetup(), arguments=mode)(_case(expected, *calls, schemas=schemas))


A1 = ToolCall.parsed("lookup_order", '{"order_id": "A-1"}')
A1_VERBOSE = ToolCall.parsed("lookup_order", '{"order_id": "A-1", "verbose": true}')
CANCEL_A1 = ToolCall.parsed("cancel_order", '{"order_id": "A-1"}')
WANT_A1 = {"name": "lookup_order", "arguments": {"order_id": "A-1"}}


def test_equal_subset_and_schema_compare_arguments_as_said() -> None:
    assert _score("equal", WANT_A1, A1).value == 1.0
    extra = _score("equal", WANT_A1, A1_VERBOSE)
    assert extra.value == 0.0 and "unexpected argument verbose" in extra.explanation
    assert _score("subset", WANT_A1, A1_VERBOSE).value == 1.0
    wrong = _score("subset", {"name": "lookup_order", "arguments": {"order_id": "B"}}, A1)
    assert wrong.explanation.startswith("lookup_order.order_id: 'A-1' != 'B'")
    bad_type = ToolCall.parsed("lookup_order", '{"order_id": 7}')
    assert _score("schema", "lookup_order", A1).value == 1.0
    broken = _score("schema", "lookup_order", bad_type)
    assert (
        broken.value == 0.0 and "order_id" in broken.explanation and "string" in broken.explanation
    )


def test_several_calls_match_in_any_order_each_once() -> None:
    wanted = [WANT_A1, {"name": "cancel_order", "arguments": {"order_id": "A-1"}}]
    assert _score("equal", wanted, CANCEL_A1, A1).value == 1.0
    twice = _score("equal", [WANT_A1, WANT_A1], A1)
    assert twice.value == 0.0 and "expected a call" not in twice.explanation
    f1 = _score("equal", wanted, A1, f1=True)
    assert f1.value == pytest.approx(2 / 3) and f1.details == {
        "matched": 1,
        "proposed": 1,
        "expected": 2,
    }
    assert "expected a call to cancel_order, got lookup_order" in f1.explanation


def test_no_call_expected_and_unexpected_calls() -> None:
    assert (
        _score(
            "equal",
            [],
        ).value
        == 1.0
    )
    assert _score("equal", None, f1=True).value == 1.0
    spurious = _score("equal", [], A1)
    assert spurious.value == 0.0 and spurious.explanation.startswith("unexpected call lookup_order")
    assert _score("equal", WANT_A1).explanation == "expected a call to lookup_order, got no call"


def test_arguments_that_are_not_json_are_said() -> None:
    garbled = ToolCall.parsed("lookup_order", "{order_id: A-1")
    assert "not a JSON object" in _score("subset", WANT_A1, garbled).explanation


def test_expected_calls_read_cells_as_written() -> None:
    assert expected_calls('[{"name": "f", "arguments": "{\\"a\\": 1}"}]')[0].arguments == {"a": 1}
    assert expected_calls("f")[0].arguments is None
    assert expected_calls([{"type": "function", "function": {"name": "g"}}])[0].name == "g"
    for garbage in ("[{", [{"arguments": {}}], [{"name": "f", "arguments": [1]}], [3]):
        with pytest.raises(ValueError):
            expected_calls(garbage)
    with pytest.raises(SuiteError, match="arguments must be one of"):
        tool_call(ScorerSetup(), arguments="loose")


# --- the embedded model ----------------------------------------------------------------------------


@pytest.mark.slow
@needs_local_model
def test_local_forced_calls_follow_the_tools_schema(tmp_path: Path) -> None:
    front = "params: {max_tokens: 48, temperature: 0}\ntool_choice: required\n"
    # maxLength bounds the strings the grammar allows: a tiny model rambles inside them
    short = {"type": "object", "properties": {"order_id": {"type": "string", "maxLength": 8}}}
    tools = [{**LOOKUP, "parameters": short}, {**CANCEL, "parameters": short}]
    _prompt(tmp_path, front + f"tools: {json.dumps(tools)}\n")
    rows = [ROW, {**ROW, "id": "r1", "text": "Cancel order B-7 please"}]
    run = evaluate(_suite(tmp_path, "local/smollm2", "[{tool_call: {arguments: schema}}]", rows))
    journal = [json.loads(line) for line in (run.path / "journal.jsonl").read_text().splitlines()]
    for row in journal:  # the grammar allows one well-formed call and nothing else
        assert row["output"] == "" and len(row["tool_calls"]) == 1
        assert row["tool_calls"][0]["name"] in {"lookup_order", "cancel_order"}
        assert isinstance(row["tool_calls"][0]["arguments"], dict)
        # which function the tiny model picks is quality; its arguments always fit the schema
        named_right = row["tool_calls"][0]["name"] == row["expected"][0]["name"]
        assert row["scores"]["tool_call"] == (1.0 if named_right else 0.0)


def test_render_request_prints_tools_and_response_format_as_sent(tmp_path: Path, cli: Any) -> None:
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}}
    front = f"tools: [{json.dumps(LOOKUP)}]\ntool_choice: required\n"
    _prompt(tmp_path, front + f"response_format: {{schema: {json.dumps(schema)}}}\n")
    code, out, err = cli(
        "render",
        "orders@v1",
        "--var",
        "text=hi",
        "--request",
        "--prompts-dir",
        str(tmp_path / "prompts"),
    )
    assert code == 0, err
    sent = json.loads(out)
    assert sent["messages"] == [{"role": "user", "content": "hi"}]
    assert sent["tools"] == [{"type": "function", "function": LOOKUP}]
    assert sent["tool_choice"] == "required"
    assert sent["response_format"]["json_schema"]["schema"] == schema


def test_the_html_report_shows_proposed_calls_as_data(tmp_path: Path) -> None:
    from promptkit import html_report, register_mock
    from tests.test_report_html import elements, embedded_data

    hostile = '{"order_id": "<script>window.__pwned=1</script>"}'
    register_mock(
        "caller", lambda r: Completion("", tool_calls=(ToolCall.parsed("lookup_order", hostile),))
    )
    _prompt(tmp_path, f"tools: [{json.dumps(LOOKUP)}]\n")
    run = evaluate(_suite(tmp_path, "mock/caller", "[tool_call]", [ROW]))
    page = html_report(run.path)
    assert "<script>window.__pwned" not in page
    assert [tag for tag, _ in elements(page)].count("script") == 2  # the page's own only
    outputs = [cell[0] for row in embedded_data(page)["rows"] for cell in row[3] if cell]
    assert outputs == [f"\u2192 lookup_order({hostile})"]


# --- found in review: no crash, no stale schema, no silent params -------------------------------


def test_a_json_reply_without_tools_is_structured_output_not_a_call() -> None:
    from promptkit.providers.local_tools import read_tool_calls

    reply = '{"name": {"first": "Ana"}, "order_id": "A-1"}'
    assert read_tool_calls(reply, {}) == (reply, ())
    tools = {"tools": [{"type": "function", "function": LOOKUP}]}
    assert read_tool_calls(reply, tools) == (reply, ())  # a dict name names no tool
    text, calls = read_tool_calls('{"name": "lookup_order", "arguments": {}}', tools)
    assert text == "" and [c.name for c in calls] == ["lookup_order"]


def test_a_forced_choice_with_nothing_to_call_is_an_error_not_an_empty_grammar() -> None:
    from promptkit.providers.local_tools import call_schema

    with pytest.raises(ProviderError, match="leaves no declared tool"):
        call_schema({"tool_choice": "required", "tools": []})


@pytest.mark.parametrize(
    ("where", "text"),
    [
        ("suite", "params: {tool_choice: required}\n"),
        ("model", ""),
    ],
)
def test_tools_in_params_are_refused_naming_the_place(
    tmp_path: Path, where: str, text: str
) -> None:
    from promptkit import load_suite

    _prompt(tmp_path, "inputs: [text]\n")
    write(tmp_path / "datasets" / "d.jsonl", '{"id": "a", "text": "hi"}\n')
    model = "{name: mock/echo, params: {tools: oops}}" if where == "model" else "mock/echo"
    suite = write(
        tmp_path / "evals" / "s.yaml",
        f"dataset: {{path: ../datasets/d.jsonl, id: id}}\ninputs: [text]\nprompts: [orders@v1]\n"
        f"models: [{model}]\nscorers: [exact_match]\n{text}",
    )
    with pytest.raises(SuiteError, match="belongs to the prompt, not to params") as info:
        load_suite(suite)
    assert "in the prompt's front matter" in str(info.value)


def test_front_matter_params_cannot_smuggle_a_tool_choice(tmp_path: Path) -> None:
    _prompt(tmp_path, "params: {tool_choice: required}\n")
    with pytest.raises(PromptError, match="belongs to the prompt, not to params"):
        PromptLibrary(tmp_path / "prompts").get("orders@v1")


def test_schema_mode_uses_each_prompt_versions_own_schema() -> None:
    scorer = tool_call(ScorerSetup(), arguments="schema")
    loose = {"lookup_order": {"type": "object"}}
    strict = {"lookup_order": {"type": "object", "properties": {"order_id": {"pattern": "^A-"}}}}
    call = ToolCall.parsed("lookup_order", '{"order_id": "nonsense"}')
    assert scorer(_case("lookup_order", call, schemas=loose)).value == 1.0
    second = scorer(_case("lookup_order", call, schemas=strict))
    assert second.value == 0.0 and "does not match" in second.explanation


def test_the_cache_key_covers_how_a_schema_goes_on_the_wire() -> None:
    from promptkit import Message, Request

    request = Request(model="oai/m", messages=(Message("user", "x"),), params={})
    plain = cache_key(request, "http://h/v1")
    assert cache_key(request, "http://h/v1", {}) == plain  # unchanged for everyone else
    assert cache_key(request, "http://h/v1", {"schema_as": "json_object"}) != plain
