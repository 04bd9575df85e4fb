"""The CLI as users meet it: exit codes and one-line errors, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write
from tests.test_suite import BASE, make_project


def test_help_imports_no_heavy_library() -> None:
    code = (
        "import sys; from promptkit.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('litellm', 'llama_cpp', 'torch', 'pandas') if m in sys.modules]\n"
        "print('HEAVY', heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in out.stdout
    assert "eval" in out.stdout and "render" in out.stdout


def test_render_prints_messages(cli: Any, repo: Path) -> None:
    code, out, _ = cli(
        "render",
        "sentiment@v2",
        "--var",
        "text=Ótimo produto",
        "--prompts-dir",
        str(repo / "prompts"),
    )
    assert code == 0
    assert "--- system ---" in out and "Review: Ótimo produto" in out


def test_render_with_suite_row_and_shots_as_json(cli: Any, repo: Path) -> None:
    code, out, _ = cli(
        "render",
        "sentiment@v2",
        "--suite",
        str(repo / "evals" / "sentiment.yaml"),
        "--row",
        "3",
        "--shots",
        "4",
        "--json",
    )
    assert code == 0
    messages = json.loads(out)
    assert [m["role"] for m in messages] == ["system"] + ["user", "assistant"] * 4 + ["user"]
    assert messages[-1]["content"].startswith("Review: Chegou antes do prazo")


def test_prompts_lists_families(cli: Any, repo: Path) -> None:
    code, out, _ = cli("prompts", "--prompts-dir", str(repo / "prompts"))
    assert code == 0
    assert "sentiment@v2" in out and "intent@v1" in out


def test_eval_on_mock_prints_table(cli: Any, tmp_path: Path) -> None:
    suite = make_project(tmp_path, BASE)
    code, out, _ = cli("eval", str(suite), "--quiet")
    assert code == 0
    assert "cls@v2" in out and "label_accuracy" in out and "[0.000," in out
    assert len(list((tmp_path / ".promptkit" / "runs").iterdir())) == 1


def _one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (
            lambda root: BASE.replace("prompts: [cls@v1, cls@v2, plain]", "prompts: [cls@v9]"),
            "prompts/cls (available: cls@v1, cls@v2)",
        ),
        (lambda root: BASE + "colour: red\n", "unknown key 'colour'"),
        (
            lambda root: BASE.replace("reference: label", "reference: stars"),
            "has no column 'stars'",
        ),
        (
            lambda root: BASE.replace("mock/echo", "nosuchprovider/model"),
            "unknown provider prefix 'nosuchprovider'",
        ),
        (
            lambda root: BASE.replace("mock/echo", "local/missing/model.gguf"),
            "GGUF model file not found",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(
    cli: Any, tmp_path: Path, setup: Any, expected: str
) -> None:
    suite = make_project(tmp_path, setup(tmp_path))
    code, _, err = cli("eval", str(suite), "--quiet")
    assert code == 2
    assert expected in _one_line_error(err)


def test_unknown_prompt_reference_names_the_suite_line(cli: Any, tmp_path: Path) -> None:
    suite = make_project(tmp_path, BASE.replace("[cls@v1, cls@v2, plain]", "[cls@v1, clss]"))
    code, _, err = cli("eval", str(suite), "--quiet")
    assert code == 2
    line = _one_line_error(err)
    assert line.startswith(f"promptkit: error: {suite}:5: unknown prompt family 'clss' in ")
    assert line.endswith("(known families: cls, plain)")


def test_unknown_litellm_prefix_lists_promptkit_prefixes(cli: Any, tmp_path: Path) -> None:
    suite = make_project(tmp_path, BASE)
    code, _, err = cli("eval", str(suite), "--model", "nosuchprovider/m", "--quiet")
    assert code == 2
    assert _one_line_error(err).endswith(
        "(use hf/, local/, mock/, oai/, tuned/ or a litellm provider such as openai/, anthropic/, "
        "ollama/)"
    )


def test_invalid_dataset_line_is_named(cli: Any, tmp_path: Path) -> None:
    suite = make_project(tmp_path, BASE)
    rows = tmp_path / "datasets" / "rows.jsonl"
    lines = [json.dumps({"id": f"r{i}", "text": "t", "label": "pos"}) for i in range(20)]
    lines[16] = '{"id": "x", "text": broken}'
    rows.write_text("\n".join(lines))
    code, _, err = cli("eval", str(suite))
    assert code == 2
    assert _one_line_error(err).startswith(f"promptkit: error: {rows}:17: invalid JSON")


def test_undefined_template_variable(cli: Any, tmp_path: Path) -> None:
    suite = make_project(
        tmp_path, BASE.replace("prompts: [cls@v1, cls@v2, plain]", "prompts: [broken]")
    )
    write(
        tmp_path / "prompts" / "broken" / "v1.jinja",
        '{% message "user" %}\n{{ txet }}\n{% endmessage %}',
    )
    code, _, err = cli("eval", str(suite))
    assert code == 2
    assert "broken/v1.jinja:2: undefined variable: 'txet' is undefined" in _one_line_error(err)


def test_missing_input_hint_fits_the_command(cli: Any, tmp_path: Path) -> None:
    """Only render has --var: eval and check point at the suite's inputs mapping."""
    suite = make_project(tmp_path, BASE.replace("[cls@v1, cls@v2, plain]", "[topic]"))
    write(
        tmp_path / "prompts" / "topic" / "v1.jinja",
        "---\ninputs: [text, topic]\n---\n"
        '{% message "user" %}{{ text }} {{ topic }}{% endmessage %}\n',
    )
    for command in (("eval", str(suite), "-q"), ("eval", str(suite), "--dry-run")):
        code, _, err = cli(*command)
        line = _one_line_error(err)
        assert code == 2 and "--var" not in line, line
        assert line.startswith(f"promptkit: error: {suite}:3: topic@v1 declares input 'topic',")
        assert "add 'topic' to inputs if the dataset has that column, map it" in line
    code, _, err = cli("check")
    assert "evals/s.yaml:3: topic@v1 declares input 'topic'" in err and "--var" not in err
    code, _, err = cli("render", "topic", "--var", "text=a")
    assert code == 2 and _one_line_error(err).endswith(
        "(pass --var topic=VALUE, or --suite to take a dataset row)"
    )
    code, out, _ = cli("render", "topic", "--suite", str(suite), "--var", "topic=sport")
    assert code == 0 and "row 0 sport" in out  # a --var the suite does not map still counts


def test_debug_env_shows_traceback(tmp_path: Path) -> None:
    suite = make_project(tmp_path, BASE + "colour: red\n")
    env = {**os.environ, "PROMPTKIT_DEBUG": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "promptkit", "eval", str(suite)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert "Traceback" in done.stderr
    assert done.returncode != 0


def test_provider_errors_exit_3(cli: Any, tmp_path: Path) -> None:
    from promptkit import ProviderError, register_mock

    def down(request: object) -> str:
        raise ProviderError("HTTP 503: overloaded")

    register_mock("down", down)
    suite = make_project(tmp_path, BASE.replace("mock/echo", "mock/down"))
    code, _, err = cli("eval", str(suite), "--quiet")
    assert code == 3
    assert "30 case(s) failed (--allow-errors to exit 0):\n  30 x HTTP 503: overloaded\n" in err
    code, _, err = cli("eval", str(suite), "--quiet", "--allow-errors")
    assert code == 0
    assert "30 case(s) failed:\n  30 x HTTP 503: overloaded\n" in err  # said all the same


def test_render_var_overrides_a_renamed_input(cli: Any, tmp_path: Path) -> None:
    suite = make_project(tmp_path, BASE.replace("inputs: [text]", "inputs: {text: text}"))
    renamed = suite.read_text().replace("inputs: {text: text}", "inputs: {text: body}")
    rows = tmp_path / "datasets" / "rows.jsonl"
    rows.write_text(rows.read_text().replace('"text"', '"body"'))
    pool = tmp_path / "datasets" / "pool.jsonl"
    pool.write_text(pool.read_text().replace('"text"', '"body"'))
    suite.write_text(renamed)
    code, out, err = cli("render", "cls@v1", "--suite", str(suite), "--var", "text=overridden")
    assert code == 0, err
    assert "overridden" in out and "row 0" not in out
