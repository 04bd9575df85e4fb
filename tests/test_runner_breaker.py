"""A dead or refusing model is no longer asked: after a few refusals in a row its
remaining cases become ``not asked`` error rows, the run ends with exit 3, and the
console counts each distinct error. Real closed ports, through oai/ and litellm."""

from __future__ import annotations

import asyncio
import json
import re
import socket
from pathlib import Path
from typing import Any

import pytest

from promptkit import (
    Completion,
    ProviderError,
    Request,
    RunOptions,
    evaluate,
    load_run,
    register_mock,
)
from promptkit.providers.http import connect_failure
from promptkit.run.breaker import BREAK_AFTER
from promptkit.run.retry import RetryPolicy, with_retries
from tests.conftest import write
from tests.fake_server import FakeServer, Faults
from tests.test_suite import BASE, make_project

CONCURRENCY = 16


def closed_port() -> int:
    """A port nothing listens on: bound to get a free number, then closed."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def dead_project(root: Path, model: str, rows: int) -> tuple[Path, str]:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    write(root / "prompts" / "p" / "v1.jinja", '{% message "user" %}{{ text }}{% endmessage %}')
    lines = (json.dumps({"id": f"r{i}", "text": f"text {i}"}) for i in range(rows))
    write(root / "data.jsonl", "\n".join(lines) + "\n")
    suite = write(
        root / "evals" / "dead.yaml",
        "dataset: {path: ../data.jsonl, id: id}\ninputs: [text]\nprompts: [p]\n"
        f"models: [{{name: {model}, api_base: '{url}'}}]\n",
    )
    return suite, url


def _assert_stopped_asking(cli: Any, root: Path, model: str, rows: int) -> None:
    suite, url = dead_project(root, model, rows)
    code, _, err = cli("eval", str(suite), "--quiet", "--no-cache", "--concurrency", "16")
    assert code == 3
    frame = load_run()
    assert len(frame) == rows and frame["error"].notna().all()
    not_asked = frame["error"].str.startswith(f"not asked: {model} failed {BREAK_AFTER} attempts")
    sent = rows - int(not_asked.sum())
    # Only the attempts already under way when the breaker opened were sent.
    assert BREAK_AFTER <= sent < BREAK_AFTER + CONCURRENCY
    refused = f"connection error: cannot connect to {url} (Connection refused)"
    assert frame["error"].str.contains(refused, regex=False).all()
    assert f"{rows} case(s) failed (--allow-errors to exit 0):" in err
    counts = dict(
        (message, int(count)) for count, message in re.findall(r"^ +(\d+) x (.+)$", err, re.M)
    )
    assert sum(counts.values()) == rows
    assert counts[frame["error"][not_asked].iloc[0]] == rows - sent
    assert "stopped early: no longer asked: " in err


def test_a_dead_oai_endpoint_is_no_longer_asked(cli: Any, tmp_path: Path) -> None:
    _assert_stopped_asking(cli, tmp_path, "oai/x", 500)


def test_a_dead_endpoint_through_litellm_is_no_longer_asked(cli: Any, tmp_path: Path) -> None:
    _assert_stopped_asking(cli, tmp_path, "openai/x", 60)


def _scripted(name: str, outcome: Any) -> list[Request]:
    """A mock model whose n-th call (from 0) raises ``outcome(n)`` or answers when None."""
    calls: list[Request] = []

    def reply(request: Request) -> Completion:
        calls.append(request)
        error = outcome(len(calls) - 1)
        if error is not None:
            raise error
        return Completion(text="pos")

    register_mock(name, reply)
    return calls


def test_a_refusing_key_stops_the_run_asking_and_resume_asks_again(tmp_path: Path) -> None:
    refusing = {"on": True}
    unauthorised = ProviderError("HTTP 401: bad key", status=401)
    calls = _scripted("bad-key", lambda n: unauthorised if refusing["on"] else None)
    suite = make_project(tmp_path, BASE.replace("mock/echo", "mock/bad-key"))
    first = evaluate(suite, RunOptions(concurrency=1), prompts=["cls@v1"])
    assert len(calls) == BREAK_AFTER  # one at a time: exactly the refusals that opened it
    errors = load_run(first.run_id)["error"]
    assert errors.str.startswith("not asked: mock/bad-key failed 8 attempts").sum() == 12 - 8
    assert first.errors == 12 and first.stopped and "mock/bad-key" in first.stopped
    refusing["on"] = False  # the key was fixed
    resumed = evaluate(suite, RunOptions(concurrency=1, resume=True), prompts=["cls@v1"])
    assert resumed.errors == 0 and len(calls) == BREAK_AFTER + 12 and resumed.stopped is None


def test_a_server_that_answers_in_between_resets_the_count(tmp_path: Path) -> None:
    def outcome(n: int) -> ProviderError:
        if n % BREAK_AFTER == BREAK_AFTER - 1:  # an overloaded server is there all the same
            return ProviderError("HTTP 503: overloaded", status=503)
        return ProviderError("HTTP 404: no such model", status=404)

    calls = _scripted("flapping", outcome)
    suite = make_project(tmp_path, BASE.replace("mock/echo", "mock/flapping"))
    result = evaluate(suite, RunOptions(concurrency=1, retries=0))
    assert len(calls) == result.cases == 30 and result.stopped is None
    assert not load_run(result.run_id)["error"].str.startswith("not asked").any()


def test_dropped_connections_do_not_open_the_breaker(tmp_path: Path) -> None:
    from tests.test_runner_http import http_project

    with FakeServer(Faults(drop=1.0)) as server:
        suite = http_project(tmp_path, server.url, rows=20)
        result = evaluate(suite, RunOptions(concurrency=1, retries=0, cache=False))
        assert len(server.log()) == 20  # a server that hangs up is there: every case is asked
    assert result.errors == 20 and result.stopped is None


def test_the_stop_reason_ends_retries_with_the_last_error() -> None:
    slept: list[float] = []
    reason: dict[str, str | None] = {"why": None}

    async def attempt() -> str:
        reason["why"] = "breaker open"
        raise ProviderError("connection error: refused", retryable=True, unreachable=True)

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    with pytest.raises(ProviderError) as info:
        asyncio.run(with_retries(attempt, RetryPolicy(), sleep=sleep, stop=lambda: reason["why"]))
    assert str(info.value) == "connection error: refused (breaker open)"
    assert info.value.unreachable and slept == []


def test_connect_failure_tells_a_refused_connection_from_a_dropped_one() -> None:
    def raised_from(cause: BaseException) -> Exception:
        try:
            try:
                raise cause
            except BaseException as inner:
                raise RuntimeError("wrapped (as litellm does)") from inner
        except RuntimeError as outer:
            return outer

    refused = ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 9)")
    assert connect_failure(raised_from(refused)) == "Connection refused"
    assert connect_failure(raised_from(socket.gaierror(-2, "Name or service not known"))) == (
        "Name or service not known"
    )
    assert connect_failure(raised_from(ConnectionResetError(104, "reset"))) is None
    assert connect_failure(ValueError("no connection involved")) is None
