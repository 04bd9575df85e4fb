"""(e) Start-up: `promptkit --help`, and a 1-case eval against the fake server.

Each is a fresh process, timed from spawn to exit; the median of several runs
is printed (the fake server runs in its own process, already listening).

    python bench/startup.py [REPEATS]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _fake import REPO, fake_server, machine_load
from _project import make_project


def wall(command: list[str], cwd: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    return elapsed


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    python = [sys.executable, "-m", "promptkit"]
    run_suite = [*python, "eval", "evals/bench.yaml", "--quiet"]  # one row
    with fake_server("--latency-ms", "0") as url, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_project(root, 1, f"{{name: oai/fake, api_base: '{url}'}}")
        runs = {
            "promptkit --help": [*python, "--help"],
            "1-case eval (fake server, cache off)": [*run_suite, "--no-cache"],
            "1-case eval (fake server, cache hit)": run_suite,
        }
        for label, command in runs.items():
            times = [wall(command, root) for _ in range(repeats)]
            print(
                f"{label}: median {statistics.median(times):.3f} s "
                f"(min {min(times):.3f}, max {max(times):.3f}, n={repeats})"
            )


if __name__ == "__main__":
    main()
    print(machine_load())
