"""A prompt's response_format: declared in front matter, sent the native way, scored by its schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptkit import PromptError, evaluate, load_run, register_mock
from promptkit.define.prompts import PromptLibrary
from promptkit.scorers import Case
from promptkit.scorers.base import ScorerSetup
from promptkit.scorers.json_schema import json_fields
from tests.conftest import needs_local_model, write
from tests.fake_server import FakeServer

SCHEMA = {
    "type": "object",
    "properties": {"order_id": {"type": "string"}, "date": {"type": "string"}},
    "required": ["order_id", "date"],
}
BODY = '{% message "user" %}Extract the order from: {{ text }}{% endmessage %}\n'


def _prompt(root: Path, front: str, version: int = 1) -> Path:
    return write(root / "prompts" / "order" / f"v{version}.jinja", f"---\n{front}---\n{BODY}")


def test_response_format_becomes_the_openai_parameter(tmp_path: Path) -> None:
    write(tmp_path / "prompts" / "order" / "order.schema.json", json.dumps(SCHEMA))
    _prompt(tmp_path, "inputs: [text]\nresponse_format: {schema: order.schema.json}\n")
    _prompt(
        tmp_path, f"inputs: [text]\nresponse_format: {{schema: {json.dumps(SCHEMA)}, name: o}}\n", 2
    )
    library = PromptLibrary(tmp_path / "prompts")
    from_file = library.get("order@v1").meta.params["response_format"]
    assert from_file == {
        "type": "json_schema",
        "json_schema": {"name": "order", "schema": SCHEMA, "strict": True},
    }
    assert library.get("order@v2").meta.params["response_format"]["json_schema"]["name"] == "o"


@pytest.mark.parametrize(
    ("front", "words"),
    [
        ("response_format: {schema: missing.json}\n", "schema file"),
        ("response_format: {schema: {type: nonsense}}\n", "invalid JSON Schema"),
        ("response_format: {name: x}\n", "needs a schema"),
        ("response_format: {schema: {type: object}, strict: true}\n", "strict"),
        (
            "params: {response_format: {type: json_object}}\nresponse_format: {schema: {type: object}}\n",
            "given twice",
        ),
    ],
)
def test_bad_response_formats_name_the_file(tmp_path: Path, front: str, words: str) -> None:
    path = _prompt(tmp_path, "inputs: [text]\n" + front)
    with pytest.raises(PromptError, match=words) as error:
        PromptLibrary(tmp_path / "prompts").get("order@v1")
    assert str(path) in str(error.value)


def _suite(root: Path, models: str, scorers: str) -> Path:
    write(
        root / "datasets" / "rows.jsonl",
        '{"id": "r0", "text": "A-1 on 2024-01-02", "order_id": "A-1", "date": "2024-01-02"}\n',
    )
    return write(
        root / "evals" / "s.yaml",
        f"dataset: {{path: ../datasets/rows.jsonl, id: id}}\ninputs: [text]\nprompts: [order@v1]\n"
        f"models: [{models}]\nscorers: {scorers}\n",
    )


def test_oai_sends_the_schema_and_json_schema_defaults_to_it(tmp_path: Path) -> None:
    _prompt(
        tmp_path,
        f"inputs: [text]\nparser: json\nresponse_format: {{schema: {json.dumps(SCHEMA)}}}\n",
    )
    with FakeServer() as server:
        suite = _suite(tmp_path, f"{{name: oai/fake, api_base: '{server.url}'}}", "[json_schema]")
        run = evaluate(suite)
        sent = server.log()[0]["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["schema"] == SCHEMA
    frame = load_run(run.run_id)
    # the fake echoes text, not JSON: the prompt's schema was applied, and failed the row
    assert frame["score.json_schema"].tolist() == [0.0]


def test_json_schema_without_a_schema_anywhere_says_so(tmp_path: Path) -> None:
    register_mock("order", lambda r: json.dumps({"order_id": "A-1", "date": "2024-01-02"}))
    _prompt(tmp_path, "inputs: [text]\nparser: json\n")
    run = evaluate(
        _suite(tmp_path, "mock/order", "[json_schema, {json_fields: {fields: [order_id, date]}}]")
    )
    journal = [json.loads(line) for line in (run.path / "journal.jsonl").read_text().splitlines()]
    assert journal[0]["scores"] == {"json_schema": 0.0, "json_fields": 1.0}
    assert "no schema" in journal[0]["score_explanations"]["json_schema"]


def test_json_fields_names_each_wrong_field() -> None:
    score = json_fields(ScorerSetup(), fields={"order_id": "id_column", "date": "date"})
    row = {"id_column": "A-1", "date": "2024-01-02"}
    right = score(
        Case(output={"order_id": "A-1", "date": "2024-01-02"}, raw="", expected=None, row=row)
    )
    half = score(Case(output={"order_id": "A-1"}, raw="", expected=None, row=row))
    assert right.value == 1.0 and half.value == 0.5
    assert half.explanation == "date: '(missing)' != '2024-01-02'"


@pytest.mark.slow
@needs_local_model
def test_local_decoding_is_constrained_to_the_schema(tmp_path: Path) -> None:
    front = "inputs: [text]\nparser: json\nparams: {max_tokens: 40, temperature: 0}\n"
    _prompt(tmp_path, front + f"response_format: {{schema: {json.dumps(SCHEMA)}}}\n")
    run = evaluate(_suite(tmp_path, "local/smollm2", "[json_valid, json_schema]"))
    frame = load_run(run.run_id)
    assert frame["score.json_valid"].tolist() == [1.0]
    assert frame["score.json_schema"].tolist() == [1.0]  # the grammar allows nothing else
    assert set(json.loads(frame["output"].iloc[0])) == {"order_id", "date"}


def test_editing_the_schema_file_changes_the_prompts_hash(tmp_path: Path) -> None:
    schema = write(tmp_path / "prompts" / "order" / "order.schema.json", json.dumps(SCHEMA))
    _prompt(tmp_path, "inputs: [text]\nresponse_format: {schema: order.schema.json}\n")
    before = PromptLibrary(tmp_path / "prompts").get("order@v1").hash
    schema.write_text(json.dumps({**SCHEMA, "required": ["order_id"]}))
    assert PromptLibrary(tmp_path / "prompts").get("order@v1").hash != before
