"""A real OpenAI-compatible HTTP server on 127.0.0.1: llama-cpp-python's server
serving the embedded SmolLM2 GGUF, reached through litellm (``openai/<alias>``)
and through the lean path (``oai/<alias>``)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from promptkit import RunOptions, evaluate, load_run
from tests.conftest import has_local_model, needs_local_model

pytestmark = [pytest.mark.slow, needs_local_model]

ALIAS = "smollm2"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_ready(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/models", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.25)
    raise RuntimeError("llama_cpp.server did not become ready")


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python -m llama_cpp.server`` on a free port; yields its base URL (…/v1)."""
    if not has_local_model():
        pytest.skip("needs the local extra")
    from promptkit.providers.local import smollm2_path

    port = _free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(smollm2_path()),
        "--model_alias",
        ALIAS,
        "--chat_format",
        "chatml",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "2048",
        "--n_threads",
        str(min(4, os.cpu_count() or 1)),
    ]
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_until_ready(url, process, timeout=180)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _sentiment(root: Path, model: str, url: str, *, cache: bool = True) -> Any:
    return evaluate(
        root / "evals" / "sentiment.yaml",
        RunOptions(limit=3, api_base=url, cache=cache),
        models=[model],
        prompts=["sentiment@v2"],
    )


def test_litellm_path_answers_from_the_real_server(
    llama_server: str, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    result = _sentiment(repo, f"openai/{ALIAS}", llama_server)
    frame = load_run(result.run_id)
    assert result.errors == 0 and len(frame) == 6  # 3 rows x (0 and 4 shots)
    assert frame["output"].str.strip().str.len().gt(0).all()
    assert (frame["prompt_tokens"] > 10).all() and (frame["completion_tokens"] > 0).all()
    four_shot = frame[frame["shots"] == 4]["prompt_tokens"]
    zero_shot = frame[frame["shots"] == 0]["prompt_tokens"]
    assert four_shot.min() > zero_shot.max()  # the shots really reached the server
    assert frame["score.label_accuracy"].between(0, 1).all()


def test_lean_path_gets_the_same_answers_as_litellm(llama_server: str, repo: Path) -> None:
    def answers(model: str) -> Any:
        frame = load_run(_sentiment(repo, model, llama_server).run_id)
        return frame.sort_values(["shots", "row_id"]).reset_index()  # finish order varies

    through_litellm, lean = answers(f"openai/{ALIAS}"), answers(f"oai/{ALIAS}")
    assert lean["error"].isna().all()
    assert lean["output"].tolist() == through_litellm["output"].tolist()  # temperature 0
    assert lean["prompt_tokens"].tolist() == through_litellm["prompt_tokens"].tolist()


def test_suite_prices_apply_to_a_model_litellm_cannot_price(
    llama_server: str, repo: Path, tmp_path: Path
) -> None:
    for folder in ("evals", "prompts", "datasets"):
        shutil.copytree(repo / folder, tmp_path / folder)
    with (tmp_path / "evals" / "sentiment.yaml").open("a") as suite:
        suite.write(f"prices: {{openai/{ALIAS}: {{input_per_1m: 1.0, output_per_1m: 4.0}}}}\n")
    frame = load_run(_sentiment(tmp_path, f"openai/{ALIAS}", llama_server).run_id)
    expected = (frame["prompt_tokens"] * 1.0 + frame["completion_tokens"] * 4.0) / 1e6
    assert frame["cost"].tolist() == pytest.approx(expected.tolist())
    unpriced = load_run(_sentiment(repo, f"openai/{ALIAS}", llama_server, cache=False).run_id)
    assert unpriced["cost"].isna().all()  # unknown to litellm: unknown, never a guess


def test_cli_reaches_the_server_with_api_base(cli: Any, llama_server: str, repo: Path) -> None:
    code, out, err = cli(
        "eval",
        str(repo / "evals" / "sentiment.yaml"),
        "--model",
        f"oai/{ALIAS}",
        "--prompt",
        "sentiment@v1",
        "--limit",
        "2",
        "--api-base",
        llama_server,
        "--quiet",
    )
    assert code == 0, err
    assert f"oai/{ALIAS}" in out and "2 cases, 0 errors" in out


@pytest.mark.parametrize("prefix", ["oai", "openai"])
def test_tools_reach_the_real_server_and_its_calls_come_back(
    llama_server: str, tmp_path: Path, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    lookup = {
        "name": "lookup_order",
        "parameters": {
            "type": "object",
            "properties": {"order_id": {"type": "string", "maxLength": 8}},
            "required": ["order_id"],
        },
    }
    prompt = tmp_path / "prompts" / "orders" / "v1.jinja"
    prompt.parent.mkdir(parents=True)
    prompt.write_text(
        f"---\ninputs: [text]\nparams: {{max_tokens: 40, temperature: 0}}\n"
        f"tools: [{json.dumps(lookup)}]\ntool_choice: lookup_order\n---\n"
        '{% message "user" %}{{ text }}{% endmessage %}\n'
    )
    (tmp_path / "rows.jsonl").write_text('{"id": "r0", "text": "Where is order A-1?"}\n')
    (tmp_path / "s.yaml").write_text(
        "dataset: {path: rows.jsonl, id: id}\ninputs: [text]\nprompts: [orders@v1]\n"
        f"models: [{prefix}/{ALIAS}]\nscorers: [{{tool_call: {{column: id}}}}]\n"
    )
    result = evaluate(tmp_path / "s.yaml", RunOptions(api_base=llama_server, cache=False))
    row = json.loads((result.path / "journal.jsonl").read_text().splitlines()[0])
    # the server honoured the named tool_choice: it answered with that call, no text
    assert row["error"] is None and [c["name"] for c in row["tool_calls"]] == ["lookup_order"]
    assert isinstance(row["tool_calls"][0]["arguments"], dict)


def test_a_response_format_reaches_the_real_server_in_its_own_form(
    llama_server: str, repo: Path
) -> None:
    # llama-cpp-python's server refuses OpenAI's {type: json_schema}; schema_as says how
    # it takes a schema, and its grammar then allows only conforming JSON
    model = f"{{name: oai/{ALIAS}, schema_as: json_object}}"
    suite = (
        Path(repo / "evals" / "orders.yaml").read_text().replace("[local/smollm2]", f"[{model}]")
    )
    path = repo / "evals" / "_orders_server.yaml"
    path.write_text(suite)
    try:
        options = RunOptions(api_base=llama_server, cache=False, limit=2)
        result = evaluate(path, options, prompts=["order_extract@v2"])
    finally:
        path.unlink()
    frame = load_run(result.run_id)
    assert frame["error"].isna().all()
    assert frame["score.json_schema"].tolist() == [1.0, 1.0]
