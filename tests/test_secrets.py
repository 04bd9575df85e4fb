"""No key reaches a file or the console, even when a provider's error body echoes the
request (its ``Authorization`` header) and the endpoint carries ``user:password@``.

The server here answers every request with 401 (a JSON error) or 500 (plain text)
whose body is the request's headers and its decoded Basic credentials, which is what
some proxies and misconfigured gateways do. It is driven through both HTTP paths
(``oai/`` and litellm's ``openai/``), with the key in a variable named by
``api_key_env``; then every file under the project (journal, meta, summary, cache,
HTML report, JUnit, Markdown) and the console output are searched for the secrets.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from promptkit.errors import ProviderError
from promptkit.redact import MASK, public, redact, remember_environment, remember_secret
from tests.conftest import CliResult, write

KEY = "sk-test-" + secrets.token_hex(16)
USER, PASSWORD = "proxyuser", "pw-" + secrets.token_hex(8)
KEY_ENV = "PK_TEST_SECRET_KEY"


class _Echo(BaseHTTPRequestHandler):
    """401 under /v401, 500 under /v500; the body repeats what the request carried."""

    seen: list[str] = []  # noqa: RUF012 - shared by the handler threads, read by the test

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = dict(self.headers.items())
        _Echo.seen.append(headers.get("Authorization", ""))
        echo = f"request headers: {json.dumps(headers)}; credentials: {_basic(headers)}"
        if self.path.startswith("/v401"):
            status, body = 401, json.dumps({"error": {"message": f"invalid key. {echo}"}})
        else:
            status, body = 500, f"upstream failed. {echo}"
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:  # keep the test output clean
        pass


def _basic(headers: dict[str, str]) -> str:
    value = headers.get("Authorization", "")
    if not value.lower().startswith("basic "):
        return "none"
    try:
        return base64.b64decode(value[6:]).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return "undecodable"


@pytest.fixture
def echo_port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Echo.seen = []
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


PROMPT = """---
inputs: [text]
parser: {type: label, labels: [positive, negative]}
---
{% message "user" %}Review: {{ text }}{% endmessage %}
"""


def _project(root: Path, port: int) -> Path:
    plain, secured = f"http://127.0.0.1:{port}", f"http://{USER}:{PASSWORD}@127.0.0.1:{port}"
    write(root / "prompts" / "review" / "v1.jinja", PROMPT)
    rows = [{"id": f"r{i}", "text": f"review {i}", "label": "positive"} for i in range(2)]
    write(root / "datasets" / "rows.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    models = [
        f"{{name: oai/keyed, api_base: '{plain}/v401', api_key_env: {KEY_ENV}}}",
        f"{{name: oai/userinfo, api_base: '{secured}/v500'}}",
        f"{{name: openai/keyed, api_base: '{plain}/v401', api_key_env: {KEY_ENV}}}",
        f"{{name: openai/userinfo, api_base: '{secured}/v401', api_key_env: {KEY_ENV}}}",
    ]
    return write(
        root / "evals" / "reviews.yaml",
        "dataset: {path: ../datasets/rows.jsonl, id: id}\n"
        "inputs: [text]\nreference: label\nprompts: [review@v1]\n"
        f"models: [{', '.join(models)}]\n"
        "scorers: [label_accuracy]\nretries: 0\ntimeout: 20\n",
    )


def _leaks(root: Path, *texts: str) -> list[str]:
    """Where any secret (or the Basic header carrying it) appears, outside the files the
    user wrote (the suite names the endpoint with its password)."""
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    needles = [KEY, PASSWORD, basic]
    written = [p for p in root.rglob("*") if p.is_file() and p.parts[len(root.parts)] != "evals"]
    assert any(p.name == "journal.jsonl" for p in written) and len(written) >= 8
    found = [f"{p}: {n[:12]}" for p in written for n in needles if n.encode() in p.read_bytes()]
    found += [f"console: {n[:12]}" for text in texts for n in needles if n in text]
    return found


def test_an_echoed_key_reaches_no_file_and_no_console(
    echo_port: int,
    tmp_path: Path,
    cli: Callable[..., CliResult],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    suite = _project(tmp_path, echo_port)
    out = tmp_path / "out"
    code, stdout, stderr = cli(
        "eval",
        str(suite),
        "--quiet",
        "--junit",
        str(out / "junit.xml"),
        "--markdown",
        str(out / "pr.md"),
        "--html",
        str(out / "eval.html"),
    )
    report = cli("report", "-o", str(out / "report.html"))

    assert code == 3, stderr
    assert report[0] == 0, report[2]
    # The server did see the secrets, so the error bodies did echo them ...
    assert any(KEY in seen for seen in _Echo.seen)
    assert any(seen.lower().startswith("basic ") for seen in _Echo.seen)
    journal = next((tmp_path / ".promptkit" / "runs").glob("*/journal.jsonl")).read_text("utf-8")
    rows = [json.loads(line) for line in journal.splitlines()]
    assert len(rows) == 8 and all(row["error"] for row in rows)
    # (litellm refuses a key beside credentials in the URL before it sends anything.)
    masked = {row["model"] for row in rows if MASK in row["error"]}
    assert masked == {"oai/keyed", "oai/userinfo", "openai/keyed"}
    # ... and none of them reached a file, the report, JUnit, Markdown or the console.
    assert _leaks(tmp_path, stdout, stderr, report[1], report[2]) == []
    meta = next((tmp_path / ".promptkit" / "runs").glob("*/meta.json")).read_text("utf-8")
    assert f"{USER}:{MASK}@127.0.0.1" in meta  # the endpoint is kept, its password masked


def test_redact_masks_known_keys_userinfo_and_auth_headers() -> None:
    key = "sk-" + secrets.token_hex(12)
    remember_secret(key)
    text = (
        f'{{"Authorization": "Bearer {key}", "url": "https://bob:hunter2hunter2@api.example/v1",'
        ' "X-Api": "Bearer abcdefghijklmnopqrstuvwx", "link": "https://h/x?api_key=zzz123&q=1"}'
    )
    masked = redact(text)
    assert key not in masked and "hunter2hunter2" not in masked
    assert "abcdefghijklmnopqrstuvwx" not in masked and "zzz123" not in masked
    assert "https://bob:[redacted]@api.example/v1" in masked and "q=1" in masked
    assert json.loads(masked)["link"] == "https://h/x?api_key=[redacted]&q=1"  # still JSON


def test_redact_leaves_ordinary_text_alone() -> None:
    text = "max_tokens: 16; token budget 300; Basic arithmetic; see http://host:8080/v1 a@b.c"
    assert redact(text) == text


def test_public_masks_credential_options_and_keeps_the_rest() -> None:
    options = {
        "api_key": "sk-inline-value-1234",
        "api_key_env": "MY_KEY",
        "api_base": "http://u:pw-secret-99@h/v1",
        "params": {"max_tokens": 8},
        "shots": {"token_budget": 100},
    }
    assert public(options) == {
        "api_key": MASK,
        "api_key_env": "MY_KEY",
        "api_base": f"http://u:{MASK}@h/v1",
        "params": {"max_tokens": 8},
        "shots": {"token_budget": 100},
    }


def test_a_key_is_masked_before_a_long_error_is_cut() -> None:
    from promptkit.providers.openai_compat import _error_message

    key = "sk-" + secrets.token_hex(20)
    remember_secret(key)
    body = ("x" * 260 + f" Authorization: Bearer {key}").encode()  # the cut is mid-key
    message = _error_message(body)
    assert key[:10] not in message and key[:10] not in str(ProviderError(message))


def test_the_working_directory_is_not_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    # PWD and OLDPWD end in "pwd" but hold paths: masking them garbled every hint
    # that named a file under the working directory.
    monkeypatch.setenv("PWD", "/home/someone/project")
    monkeypatch.setenv("OLDPWD", "/home/someone/elsewhere")
    remember_environment()
    assert redact("see /home/someone/project/prompts") == "see /home/someone/project/prompts"


def test_credentials_in_the_url_beside_an_api_key_are_refused_in_one_line(
    echo_port: int,
    tmp_path: Path,
    cli: Callable[..., CliResult],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Both would be the Authorization header; aiohttp raised a bare ValueError (exit 4).
    monkeypatch.setenv(KEY_ENV, KEY)
    suite = _project(tmp_path, echo_port)
    secured = f"http://{USER}:{PASSWORD}@127.0.0.1:{echo_port}/v1"
    both = f"models: [{{name: oai/both, api_base: '{secured}', api_key_env: {KEY_ENV}}}]\n"
    text = suite.read_text("utf-8")
    suite.write_text(re.sub(r"^models: .*$\n", both, text, flags=re.MULTILINE), "utf-8")
    code, stdout, stderr = cli("eval", str(suite), "--quiet")
    assert code == 2, stderr
    assert "api_base carries user:password@ credentials and an API key is set too" in stderr
    assert "Traceback" not in stderr and not _Echo.seen  # refused before anything was sent
    assert PASSWORD not in stderr + stdout and KEY not in stderr + stdout
