"""Faults a real provider produces, injected by the fake server: every case ends
with an answer or an error row that says why; kills lose only cases in flight;
two runs can share one cache."""

from __future__ import annotations

import itertools
import json
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from promptkit import RunOptions, evaluate, load_run
from promptkit.run.caller import default_cache_path
from tests.fake_server import FakeServer, Faults
from tests.test_runner_http import http_project

WHY = re.compile(
    r"^(HTTP 429: rate limited|HTTP 500: internal error|connection error: |"
    r"malformed reply|timed out after 0.4s)"
)


def test_mixed_faults_end_in_an_answer_or_an_error_that_says_why(tmp_path: Path) -> None:
    faults = Faults(
        rate_limit=0.30,
        retry_after="0.05",
        server_error=0.05,
        drop=0.05,
        malformed=0.05,
        slow=0.05,
        slow_ms=3000,
        seed=7,
    )
    with FakeServer(faults) as server:
        suite = http_project(tmp_path, server.url, rows=80, extra="timeout: 0.4\n")
        result = evaluate(suite, RunOptions(concurrency=16))
        log = server.log()
    journal = [json.loads(line) for line in (result.path / "journal.jsonl").open()]
    assert sorted(row["row_id"] for row in journal) == sorted(f"r{i}" for i in range(80))
    errors = [row for row in journal if row["error"] is not None]
    for row in journal:
        if row["error"] is None:
            assert row["output"].startswith("Review: ") and row["scores"]["label_accuracy"] == 1
        else:
            assert WHY.match(row["error"]), row["error"]
            assert row["output"] is None
    assert result.errors == len(errors)
    assert {entry["outcome"] for entry in log} == {
        "ok",
        "rate_limit",
        "server_error",
        "drop",
        "malformed",
        "slow",
    }
    retried = [row for row in journal if row.get("attempts", 1) > 1]
    assert retried  # the faults were survived by retrying, not only recorded
    _assert_retry_after_honoured(log, 0.05)


def _assert_retry_after_honoured(log: list[dict[str, Any]], seconds: float) -> None:
    """After a 429, the same case was not asked again sooner than Retry-After."""
    by_case: dict[str, list[dict[str, Any]]] = {}
    for entry in log:
        by_case.setdefault(entry["case"], []).append(entry)
    checked = 0
    for entries in by_case.values():
        for before, after in itertools.pairwise(entries):
            if before["outcome"] == "rate_limit":
                assert after["t"] - before["t"] >= seconds
                checked += 1
    assert checked > 0


def _start_cli(suite: Path, cwd: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "promptkit", "eval", str(suite), "--quiet", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_lines(journal: Path, count: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if journal.is_file() and journal.read_bytes().count(b"\n") >= count:
            return
        time.sleep(0.02)
    raise AssertionError(f"the run never wrote {count} journal lines")


def _answered(journal: Path) -> dict[str, str]:
    """row id -> input text of every case the journal holds an answer for."""
    answered = {}
    for line in journal.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line torn by the kill
        if row["error"] is None:
            answered[row["row_id"]] = row["input"]["text"]
    return answered


def _killed_mid_run(tmp_path: Path, server: FakeServer, how: signal.Signals) -> tuple[Path, str]:
    suite = http_project(tmp_path, server.url, rows=120)
    process = _start_cli(suite, tmp_path, "--no-cache", "--concurrency", "4")
    runs = tmp_path / ".promptkit" / "runs"
    deadline = time.monotonic() + 60
    while not (runs.is_dir() and any(runs.iterdir())) and time.monotonic() < deadline:
        time.sleep(0.02)
    journal = next(runs.iterdir()) / "journal.jsonl"
    _wait_for_lines(journal, 30)
    process.send_signal(how)
    _, stderr = process.communicate(timeout=60)
    return journal, stderr + f"\nrc={process.returncode}"


def test_sigkill_then_resume_asks_no_answered_case_again(tmp_path: Path) -> None:
    with FakeServer(Faults(latency_ms=30)) as server:
        journal, _ = _killed_mid_run(tmp_path, server, signal.SIGKILL)
        answered = _answered(journal)
        asked_before = len(server.log())
        assert 30 <= len(answered) < 120
        suite = tmp_path / "evals" / "reviews.yaml"
        result = evaluate(suite, RunOptions(cache=False, resume=True))
        asked_after = [entry["case"] for entry in server.log()[asked_before:]]
    assert not {f"Review: {text}" for text in answered.values()} & set(asked_after)
    assert len(asked_after) == 120 - len(answered)
    rows = [json.loads(line) for line in journal.read_text().splitlines()]  # none torn now
    finals = Counter(row["row_id"] for row in rows if row["error"] is None)
    assert len(finals) == 120 and set(finals.values()) == {1}  # exactly one final row per case
    assert result.cases == 120 and result.errors == 0
    assert len(load_run(result.run_id)) == 120


def test_sigint_stops_cleanly_and_resume_finishes(tmp_path: Path) -> None:
    with FakeServer(Faults(latency_ms=30)) as server:
        journal, stderr = _killed_mid_run(tmp_path, server, signal.SIGINT)
        assert "rc=130" in stderr and "--resume" in stderr
        rows = [json.loads(line) for line in journal.read_text().splitlines()]  # all whole
        answered = {row["row_id"] for row in rows}
        asked_before = len(server.log())
        result = evaluate(tmp_path / "evals" / "reviews.yaml", RunOptions(cache=False, resume=True))
        assert len(server.log()) - asked_before == 120 - len(answered)
    assert result.cases == 120 and result.errors == 0


def test_two_runs_share_one_cache_at_once(tmp_path: Path) -> None:
    with FakeServer(Faults(latency_ms=5)) as server:
        suite = http_project(tmp_path, server.url, rows=150)
        runs = [_start_cli(suite, tmp_path, "--concurrency", "8") for _ in range(2)]
        outputs = [run.communicate(timeout=300) for run in runs]
        assert [run.returncode for run in runs] == [0, 0], outputs
        assert all("150 cases, 0 errors" in out for out, _ in outputs)
        asked = len(server.log())
        assert 150 <= asked <= 300
        third = evaluate(suite)
        assert len(server.log()) == asked  # every answer came from the shared cache
    assert load_run(third.run_id)["cached"].all()
    db = sqlite3.connect(default_cache_path(tmp_path / ".promptkit" / "runs"))
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert db.execute("SELECT count(*) FROM responses").fetchone() == (150,)
    db.close()
