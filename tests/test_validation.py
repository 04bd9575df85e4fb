"""Garbage in a suite, a model entry, shots, a parser or front matter is refused with one
line naming the file, the line and the fix (exit 2); what a run would get silently wrong
(unknown request params, reference labels no parser produces) is flagged before any call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from promptkit import BadInput, PromptError, Request, SuiteError, load_suite, register_mock
from promptkit.ci.check import check_project
from promptkit.define.prompts import Prompt
from promptkit.define.validate import Where, finite_number, integer, key_lines, known_keys
from promptkit.providers.base import known_params
from promptkit.run.preflight import preflight
from tests.conftest import write
from tests.test_suite import BASE, make_project

# --- suite keys ---------------------------------------------------------------------------------

# (text appended to BASE or (old, new) replaced in it, the line it is on, the message)
SUITE_CASES: list[tuple[str | tuple[str, str], int, str]] = [
    ("timeout: .nan\n", 9, "'timeout' must be a finite number > 0 and <= 86400, not nan"),
    ("timeout: .inf\n", 9, "'timeout' must be a finite number > 0 and <= 86400, not inf"),
    ("timeout: -1\n", 9, "'timeout' must be a finite number > 0"),
    ("timeout: 0\n", 9, "'timeout' must be a finite number > 0"),
    ("timeout: '30'\n", 9, "'timeout' must be a finite number > 0 and <= 86400, not '30'"),
    ("timeout: true\n", 9, "not True"),
    ("repeat: 100000000000000000000\n", 9, "'repeat' must be an integer from 1 to 10000"),
    ("repeat: 1e20\n", 9, "'repeat' must be an integer from 1 to 10000, not '1e20'"),
    ("repeat: 1.0e+20\n", 9, "'repeat' must be an integer from 1 to 10000, not 1e+20"),
    ("repeat: 2.5\n", 9, "'repeat' must be an integer"),
    ("repeat: 0\n", 9, "'repeat' must be an integer from 1"),
    ("seed: abc\n", 9, "'seed' must be an integer from 0 to 2147483647, not 'abc'"),
    ("seed: -1\n", 9, "'seed' must be an integer from 0"),
    ("seed: 1.5\n", 9, "'seed' must be an integer"),
    ("concurrency: 0\n", 9, "'concurrency' must be an integer from 1 to 10000 or 'auto', not 0"),
    ("concurrency: 1000000\n", 9, "'concurrency' must be an integer from 1 to 10000 or 'auto'"),
    ("concurrency: Auto\n", 9, "'concurrency' must be an integer from 1 to 10000 or 'auto', not"),
    ("concurrency: '8'\n", 9, "'concurrency' must be an integer from 1 to 10000 or 'auto', not"),
    ("concurrency: 2.5\n", 9, "'concurrency' must be an integer from 1 to 10000 or 'auto'"),
    ("concurrency: true\n", 9, "or 'auto', not True (a number such as 8, or auto"),
    ("retries: -1\n", 9, "'retries' must be an integer from 0 to 100, not -1"),
    ("retries: 1000\n", 9, "'retries' must be an integer from 0 to 100"),
    ("rpm: .nan\n", 9, "'rpm' must be a finite number >= 0.01, not nan"),
    ("rpm: 0\n", 9, "'rpm' must be a finite number >= 0.01, not 0"),
    ("limit: 0\n", 9, "'limit' must be an integer >= 1, not 0"),
    ("params: {temperature: .inf}\n", 9, "'params.temperature' must be a finite value, not inf"),
    ("params: {max_tokens: -5}\n", 9, "'params.max_tokens' must be an integer from 1"),
    ("params: {top_p: 2}\n", 9, "'params.top_p' must be a finite number from 0 to 1, not 2"),
    ("params: {stop: [1]}\n", 9, "'params.stop[0]' must be a string"),
    ("params: {extra: {deep: [.nan]}}\n", 9, "'params.extra.deep[0]' must be a finite value"),
    ("params: 5\n", 9, "'params' must be a mapping of parameters, not 5"),
    ("params:\n  temperature:\n    .nan\n", 10, "'params.temperature' must be a finite value"),
    ("prices: {mock/echo: {input_per_1m: .inf}}\n", 9, "'prices.mock/echo.input_per_1m'"),
    (
        "prices: {mock/echo: {input_per_1m: 1, outptu_per_1m: 2}}\n",
        9,
        "unknown key 'prices.mock/echo.outptu_per_1m' (did you mean 'output_per_1m'?",
    ),
    ("1: x\n", 9, "key '1' is read as int, not as text"),  # the YAML reader refuses it
    ("scorer: [oops]\n", 9, "unknown key 'scorer' (did you mean 'scorers'?; known keys: desc"),
    ("description: [a]\n", 9, "'description' must be a string, not ['a']"),
    (("models: [mock/echo]", "models: 42"), 6, "'models' must be a model name or {name: "),
    (("models: [mock/echo]", "models: [42]"), 6, "'models[0]' must be a model name"),
    (("models: [mock/echo]", "models: [echo]"), 6, "model 'echo' has no provider prefix"),
    (("models: [mock/echo]", "models: [mock/echo, mock/echo]"), 6, "listed twice"),
    (
        ("models: [mock/echo]", "models:\n  - mock/echo\n  - {name: mock/echo2, concurency: 4}"),
        8,
        "unknown model option 'models[1].concurency' (did you mean 'concurrency'?",
    ),
    (
        ("models: [mock/echo]", "models:\n  - name: mock/echo\n    concurrency: -5"),
        8,
        "'models[0].concurrency' must be an integer from 1 to 10000 or 'auto', not -5",
    ),
    (
        ("models: [mock/echo]", "models:\n  - name: mock/echo\n    concurrency: adaptive"),
        8,
        "'models[0].concurrency' must be an integer from 1 to 10000 or 'auto', not 'adaptive' "
        "(a number such as 8, or auto",
    ),
    (
        ("models: [mock/echo]", "models:\n  - name: mock/echo\n    params: {top_k: x}"),
        8,
        "'models[0].params.top_k' must be an integer >= 0, not 'x'",
    ),
    (
        ("models: [mock/echo]", "models:\n  - name: mock/r\n    responses:\n      - {match: '('}"),
        9,
        "'models[0].responses[0]' has no 'reply'",
    ),
    (
        (
            "models: [mock/echo]",
            "models:\n  - name: mock/r\n    responses:\n      - {match: '(', reply: x}",
        ),
        9,
        "'models[0].responses[0].match' is not a valid regular expression ('('): missing ), "
        "unterminated subpattern at position 0",
    ),
    (
        (
            "models: [mock/echo]",
            "models: [{name: mock/r, responses: [{match: a, reply: b, x: 1}]}]",
        ),
        6,
        "unknown key 'models[0].responses[0].x'",
    ),
    (
        ("models: [mock/echo]", "models: [{name: mock/r, default: a, latency_ms: -1}]"),
        6,
        "'models[0].latency_ms' must be a finite number from 0 to 600000, not -1",
    ),
    (
        ("models: [mock/echo]", "models: [{name: mock/r, default: [a]}]"),
        6,
        "'models[0].default' must be a reply text",
    ),
    (
        ("models: [mock/echo]", "models: [{name: oai/m, api_base: 5}]"),
        6,
        "'models[0].api_base' must be a URL such as http://host/v1, not 5",
    ),
    (
        ("models: [mock/echo]", "models: [{name: local/smollm2, n_ctx: 0}]"),
        6,
        "'models[0].n_ctx' must be an integer from 1 to 10000000, not 0",
    ),
    (
        ("models: [mock/echo]", "models: [{name: hf/smollm2, dtype: float8}]"),
        6,
        "'models[0].dtype' must be one of auto, float32, bfloat16, float16, not 'float8'",
    ),
    (
        ("shots: [0, 2]", "shots: {k: [0, 2], token_budget: -5}"),
        7,
        "'shots.token_budget' must be an integer from 1 to 10000000, not -5",
    ),
    (
        ("shots: [0, 2]", "shots: {k: [0, 2], strategy: simlar}"),
        7,
        "'shots.strategy' must be one of first, random, stratified, similar, not 'simlar' "
        "(did you mean 'similar'?)",
    ),
    (
        ("shots: [0, 2]", "shots: {k: [0, 2], sead: 3}"),
        7,
        "unknown shots key 'shots.sead' (did you mean 'seed'?",
    ),
    (("shots: [0, 2]", "shots: [0, 0]"), 7, "shot count 0 is listed twice"),
    (("shots: [0, 2]", "shots: []"), 7, "no shot count given"),
    (("shots: [0, 2]", "shots: [0, 100000]"), 7, "'shots[1]' must be an integer from 0 to 10000"),
    (("shots: [0, 2]", "shots: {k: [0, 2], seed: x}"), 7, "'shots.seed' must be an integer"),
    (
        ("dataset: {path: ../datasets/rows.jsonl, id: id}", "dataset: {path: 5}"),
        1,
        "'dataset.path'",
    ),
    (
        ("dataset: {path: ../datasets/rows.jsonl, id: id}", "dataset: {path: x.jsonl, sep: x}"),
        1,
        "unknown key 'dataset.sep'",
    ),
    (("inputs: [text]", "inputs: [text, 5]"), 3, "'inputs[1]' must be a string, not 5"),
    (("inputs: [text]", "inputs: {text: 5}"), 3, "'inputs.text' must be a column name, not 5"),
    (("inputs: [text]", "inputs: []"), 3, "'inputs' is empty"),
    (("reference: label", "reference: 5"), 4, "'reference' must be a column name, not 5"),
    (("prompts: [cls@v1, cls@v2, plain]", "prompts: [cls@v1, cls@v1]"), 5, "listed twice"),
    (
        ("prompts: [cls@v1, cls@v2, plain]", "prompts: [5]"),
        5,
        "'prompts[0]' must be a string, not 5",
    ),
]


def _apply(change: str | tuple[str, str]) -> str:
    if isinstance(change, str):
        return BASE + change
    assert change[0] in BASE, change
    return BASE.replace(*change)


@pytest.mark.parametrize(("change", "line", "message"), SUITE_CASES)
def test_bad_suite_keys_are_one_line_with_file_and_line(
    tmp_path: Path, change: str | tuple[str, str], line: int, message: str
) -> None:
    path = make_project(tmp_path, _apply(change))
    with pytest.raises(BadInput) as info:  # a SuiteError, or a provider's config error
        load_suite(path)
    text = str(info.value)
    assert message in text
    assert text.startswith(f"{path}:{line}: "), text
    assert "\n" not in text


def test_bad_suite_exits_2_with_one_line_through_the_cli(cli: Any, tmp_path: Path) -> None:
    path = make_project(tmp_path, BASE + "timeout: .nan\n")
    code, _, err = cli("eval", str(path))
    assert code == 2
    assert err.splitlines() == [
        f"promptkit: error: {path}:9: 'timeout' must be a finite number > 0 and <= 86400, not nan "
        "(timeout: seconds allowed per request)"
    ]


def test_concurrency_auto_is_read_where_an_integer_is(tmp_path: Path) -> None:
    entries = "models: [{name: mock/echo, concurrency: auto}]\nconcurrency: auto\n"
    suite = load_suite(make_project(tmp_path, BASE.replace("models: [mock/echo]\n", entries)))
    assert suite.concurrency == "auto" and suite.models[0].options == {"concurrency": "auto"}


@pytest.mark.parametrize("value", ["0", "-3", "fast", "2.5", "Auto"])
def test_bad_concurrency_option_is_one_line(cli: Any, tmp_path: Path, value: str) -> None:
    path = make_project(tmp_path, BASE)
    code, _, err = cli("eval", str(path), "--concurrency", value)
    assert code == 2
    assert f"Invalid value for '--concurrency': {value!r} is not an integer >= 1 or 'auto'" in err


@pytest.mark.parametrize("value", ["bogus", 0, 2.5, 99_999])
def test_bad_concurrency_from_python_is_one_line(tmp_path: Path, value: Any) -> None:
    from promptkit import RunOptions, evaluate

    path = make_project(tmp_path, BASE)
    with pytest.raises(BadInput, match="'concurrency' must be an integer from 1 to 10000"):
        evaluate(path, options=RunOptions(concurrency=value, cache=False))


def test_scorer_file_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    make_project(tmp_path, BASE)
    broken = write(tmp_path / "evals" / "mine.py", "x = 1\ndef f(:\n    pass\n")
    path = write(tmp_path / "evals" / "s.yaml", BASE + "scorer_files: [mine.py]\n")
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    assert str(info.value).startswith(f"{broken}:2: syntax error in scorer file")


def test_scorer_file_that_fails_on_import_names_the_file_and_line(tmp_path: Path) -> None:
    make_project(tmp_path, BASE)
    broken = write(tmp_path / "evals" / "mine.py", "import os\n\nvalue = undefined_name + 1\n")
    path = write(tmp_path / "evals" / "s.yaml", BASE + "scorer_files: mine.py\n")
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    assert str(info.value).startswith(
        f"{broken}:3: scorer file failed to import: NameError: name 'undefined_name'"
    )


def test_valid_model_entries_keep_their_options(tmp_path: Path) -> None:
    entries = (
        "models:\n"
        "  - {name: mock/r, responses: [{match: 'a|b', reply: 4}], default: 1, latency_ms: 0}\n"
        "  - {name: mock/echo, concurrency: 3, rpm: 60, params: {temperature: 0.5},"
        " extra_params: [guided_json]}\n"
    )
    suite = load_suite(make_project(tmp_path, BASE.replace("models: [mock/echo]\n", entries)))
    assert [m.key for m in suite.models] == ["models[0]", "models[1]"]
    assert suite.models[1].options == {
        "concurrency": 3,
        "rpm": 60,
        "params": {"temperature": 0.5},
        "extra_params": ["guided_json"],
    }


# --- prompt front matter and parsers -------------------------------------------------------------

FRONT_CASES: list[tuple[str, int, str]] = [
    ("parser: {type: label, labels: [a, b], strict: true}", 3, "unknown label parser key "),
    ("parser: {type: lable}", 3, "'parser.type' must be one of text, label, json, regex, not "),
    ("parser: {type: label, labels: []}", 3, "'parser.labels' must be a non-empty list"),
    ("parser: {type: label, labels: [a, A]}", 3, "label 'a' is listed twice"),
    ("parser: {type: label, labels: [a, [b]]}", 3, "'parser.labels[1]' must be a label"),
    ("parser: {type: label, labels: [a, b], aliases: {x: c}}", 3, "'parser.aliases.x' must be"),
    ("parser: {type: label, labels: [a, b], aliases: {a: b}}", 3, "alias 'a' is another label"),
    ("parser: {type: label, labels: [a, b], pick: lst}", 3, "did you mean 'last'?"),
    ("parser: {type: regex, pattern: '('}", 3, "'parser.pattern' is not a valid regular"),
    ("parser: {type: regex, pattern: 'a(b)', group: 2}", 3, "'parser.group' must be an integer"),
    ("parser: {type: regex, pattern: 'a', group: name}", 3, "no group named 'name'"),
    ("parser: {type: json, field: 5}", 3, "'parser.field' must be a field name, not 5"),
    ("parser: [label]", 3, "'parser' must be a parser type or {type: ..., ...}"),
    ("params: {temperature: .nan}", 3, "'params.temperature' must be a finite value"),
    ("params: {max_tokens: 0}", 3, "'params.max_tokens' must be an integer from 1"),
    ("params: [temperature]", 3, "'params' must be a mapping of parameters"),
    ("model: 5", 3, "'model' must be provider/model, not 5"),
    ("model: smollm2", 3, "'model' must be a provider/model name"),
    ("shots: {k: -1}", 3, "'shots.k' must be an integer from 0 to 10000, not -1"),
    ("shots: 5", 3, "'shots' must be shot settings {k, ...}, not 5"),
    ("description: [a]", 3, "'description' must be a string"),
    ("colour: red", 3, "unknown front matter key 'colour'"),
    ("inputs: [text, 5]", 2, "'inputs[1]' must be a string, not 5"),
]


@pytest.mark.parametrize(("line", "at", "message"), FRONT_CASES)
def test_bad_front_matter_is_one_line_with_file_and_line(
    tmp_path: Path, line: str, at: int, message: str
) -> None:
    inputs = "inputs: [text]\n" if not line.startswith("inputs") else ""
    source = f"---\n{inputs}{line}\n---\n" + '{% message "user" %}{{ text }}{% endmessage %}'
    path = write(tmp_path / "prompts" / "p" / "v1.jinja", source)
    with pytest.raises(PromptError) as info:
        Prompt(family="p", version=1, source=source, path=path)
    text = str(info.value)
    assert message in text
    assert text.startswith(f"{path}:{at}: "), text


# --- the vocabulary ------------------------------------------------------------------------------


def test_numbers_refuse_bools_nan_infinity_and_huge_values() -> None:
    where = Where("f.yaml", "x")
    for bad in (True, float("nan"), float("inf"), "1", None, 10**400):
        with pytest.raises(BadInput, match="'x' must be a finite number"):
            finite_number(bad, where)
    assert finite_number(3, where) == 3.0
    with pytest.raises(BadInput, match="an integer of about 501 digits"):
        integer(10**500, where, maximum=10)


def test_key_lines_follow_nested_keys_and_stay_linear_on_aliases() -> None:
    import yaml

    text = "a: &x [1, 2]\nb:\n  c: *x\n  d:\n    - {e: 1}\n"
    lines = key_lines(yaml.compose(text))
    assert lines["a"] == 1 and lines["b.c"] == 3 and lines["b.d[0].e"] == 5
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
    )
    assert len(key_lines(yaml.compose(bomb))) < 200  # 9**9 entries if aliases were expanded


def test_unknown_keys_suggest_the_closest_name() -> None:
    with pytest.raises(BadInput) as info:
        known_keys({"concurency": 1}, ["name", "concurrency"], Where("f", "models[0]"))
    assert info.value.hint == "did you mean 'concurrency'?; known keys: name, concurrency"


# --- before any call: unknown params, unreachable labels -----------------------------------------

LABEL_PROMPT = """---
inputs: [text]
params: {temperature: 0}
parser: {type: label, labels: [urgente, normal, baixa]}
---
{% message "user" %}{{ text }}{% endmessage %}
"""


def triage_project(root: Path, suite_extra: str = "", labels: tuple[str, ...] = ()) -> Path:
    write(root / "prompts" / "triage" / "v1.jinja", LABEL_PROMPT)
    values = labels or ("urgente", "normal", "baixa", "normal")
    rows = "".join(
        f'{{"id": "r{i}", "text": "message {i}", "label": "{v}"}}\n' for i, v in enumerate(values)
    )
    write(root / "datasets" / "rows.jsonl", rows)
    return write(
        root / "evals" / "triage.yaml",
        "dataset: {path: ../datasets/rows.jsonl, id: id}\ninputs: [text]\nreference: label\n"
        "prompts: [triage]\nmodels: [mock/triage]\nscorers: [label_accuracy]\n" + suite_extra,
    )


CALLS: list[Request] = []


def _triage(request: Request) -> str:
    CALLS.append(request)
    return "normal"


def test_unknown_param_is_flagged_with_the_known_names(tmp_path: Path) -> None:
    suite = load_suite(triage_project(tmp_path, "params: {temprature: 0}\n"))
    findings = preflight(suite)
    assert len(findings) == 1
    text = str(findings[0])
    assert text.startswith(
        f"{suite.path}:7: unknown request parameter 'temprature' for mock/triage "
        "(did you mean 'temperature'? known: "
    )
    assert "extra_params" in text


def test_unknown_param_in_front_matter_and_model_entry_name_their_file(tmp_path: Path) -> None:
    path = triage_project(tmp_path)
    prompt = tmp_path / "prompts" / "triage" / "v1.jinja"
    prompt.write_text(LABEL_PROMPT.replace("temperature", "temperatur"))
    path.write_text(
        path.read_text().replace(
            "models: [mock/triage]",
            "models:\n  - name: mock/triage\n    params: {max_token: 5}",
        )
    )
    found = sorted(str(f) for f in preflight(load_suite(path)))
    assert found[0].startswith(f"{path}:7: unknown request parameter 'max_token'")
    assert found[1].startswith(f"{prompt}:3: unknown request parameter 'temperatur'")


def test_extra_params_declare_a_servers_own_names(tmp_path: Path) -> None:
    path = triage_project(tmp_path)
    path.write_text(
        path.read_text().replace(
            "models: [mock/triage]",
            "models:\n  - {name: mock/triage, params: {guided_json: {}}, extra_params: [guided_json]}",
        )
    )
    assert preflight(load_suite(path)) == []


def test_known_params_per_provider() -> None:
    local = known_params("local/smollm2")
    assert local is not None and "repeat_penalty" in local and "logit_bias" not in local
    assert "response_format" in local  # a JSON Schema becomes a llama.cpp grammar
    oai = known_params("oai/m")
    assert oai is not None and {"temperature", "response_format", "top_k"} <= oai
    hf = known_params("hf/smollm2")
    assert hf is not None and "max_tokens" in hf and "logit_bias" not in hf


def test_litellm_params_come_from_litellm() -> None:
    pytest.importorskip("litellm")
    openai = known_params("openai/gpt-4o-mini")
    assert openai is not None and "temperature" in openai and "temprature" not in openai


def test_reference_no_parser_can_produce_is_flagged(tmp_path: Path) -> None:
    path = triage_project(tmp_path, labels=("urgente", "alta", "normal", "alta", "Baixa"))
    findings = preflight(load_suite(path))
    assert [str(f) for f in findings] == [
        f"{tmp_path / 'datasets' / 'rows.jsonl'}:2: reference 'alta' in column 'label' "
        "(2 row(s)) is not a label triage@v1 can produce, so it always scores 0 "
        "(labels: baixa, normal, urgente; fix the data, or add it to the parser's labels or "
        "aliases)"
    ]


def test_check_reports_what_eval_warns_about(tmp_path: Path) -> None:
    path = triage_project(tmp_path, "params: {temprature: 0}\n", labels=("urgente", "alta"))
    report = check_project([path], use_git=False)
    messages = [p.message for p in report.problems]
    assert any("unknown request parameter 'temprature'" in m for m in messages)
    assert any("reference 'alta'" in m for m in messages)


def test_eval_warns_and_runs_or_refuses_under_strict(cli: Any, tmp_path: Path) -> None:
    register_mock("triage", _triage)
    path = triage_project(tmp_path, "params: {temprature: 0}\n", labels=("urgente", "alta"))
    CALLS.clear()
    code, _, err = cli("eval", str(path), "--strict")
    assert code == 2 and CALLS == []
    assert err.count("\n") == 1
    assert "unknown request parameter 'temprature'" in err and "1 more such problem" in err
    assert not (tmp_path / ".promptkit" / "runs").exists()

    code, _, err = cli("eval", str(path), "--allow-errors", "-q")
    warnings = [line for line in err.splitlines() if line.startswith("promptkit: warning: ")]
    assert len(warnings) == 2, err
    assert len(CALLS) == 2  # warnings only: the run went ahead


def test_evaluate_strict_refuses_before_any_call(tmp_path: Path) -> None:
    from promptkit import evaluate

    register_mock("triage", _triage)
    CALLS.clear()
    with pytest.raises(SuiteError, match="reference 'alta'"):
        evaluate(triage_project(tmp_path, labels=("alta",)), strict=True)
    assert CALLS == []


@pytest.mark.parametrize("option", ["--timeout", "--rpm", "--max-cost"])
def test_command_line_numbers_refuse_nan_and_infinity(
    cli: Any, tmp_path: Path, option: str
) -> None:
    path = make_project(tmp_path, BASE)
    for value in ("nan", "inf"):
        code, _, err = cli("eval", str(path), option, value)
        assert code == 2 and f"{value!r} is not a finite number" in err, err
