"""Wall time to fail N cases against a dead endpoint (a closed port on 127.0.0.1).

Runs ``promptkit eval`` in a fresh process, as a user would, at concurrency 16
with the default retries, once through the lean ``oai/`` path and once through
litellm (``openai/x`` with api_base), and prints per path: the exit code, the
wall time, how many cases were actually sent and how many were not asked once
the model's breaker opened, and the error summary the console showed. The time a
fresh process takes to import litellm is printed too: most of that path's wall
time is that import, not the failing cases.

    python bench/dead_provider.py [N_OAI] [N_LITELLM]      # default 500 500
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _fake import REPO
from _project import make_project

CONCURRENCY = 16


def closed_port() -> int:
    """A port nothing listens on: bound once to get a free number, then closed."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def fail_cases(model: str, cases: int) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        suite = make_project(root, cases, f"{{name: {model}, api_base: '{url}'}}")
        env = {**os.environ, "PYTHONPATH": str(REPO), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
        command = [sys.executable, "-m", "promptkit", "eval", str(suite), "--quiet", "--no-cache"]
        command += ["--concurrency", str(CONCURRENCY)]
        started = time.perf_counter()
        done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - started
        journal = next((root / ".promptkit" / "runs").iterdir()) / "journal.jsonl"
        rows = [json.loads(line) for line in journal.read_text("utf-8").splitlines()]
    not_asked = sum(str(r["error"]).startswith("not asked:") for r in rows)
    print(
        f"{model:10} {cases} cases at concurrency {CONCURRENCY}: exit {done.returncode}, "
        f"{wall:.1f} s wall, {len(rows) - not_asked} sent, {not_asked} not asked"
    )
    for line in done.stderr.strip().splitlines():
        print(f"    {line}")


def import_seconds(module: str) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    counts = [int(a) for a in sys.argv[1:3]] + [500, 500][len(sys.argv[1:3]) :]
    fail_cases("oai/x", counts[0])
    fail_cases("openai/x", counts[1])
    print(f"(import litellm alone, fresh process: {import_seconds('litellm'):.1f} s)")


if __name__ == "__main__":
    main()
