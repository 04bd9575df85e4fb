"""(c) Wall time of a fully cached re-run of N cases (1000 and 5000 by default).

A first run fills the cache from the fake server (its own process); the re-run
asks nothing. Reported two ways: run_suite in a warm process (the runner's own
time, summary included), and the whole `promptkit eval` command in a fresh
process (Python start-up and imports included).

    python bench/cached_rerun.py [N ...]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _fake import REPO, fake_server, machine_load
from harness_cpu import measure


def cli_wall(root: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "promptkit", "eval", "evals/bench.yaml", "--quiet"]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    assert done.returncode == 0 and " 0 errors" in done.stdout, done.stderr
    return wall


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [1000, 5000]
    with fake_server("--latency-ms", "0") as url, tempfile.TemporaryDirectory() as tmp:
        measure(url, Path(tmp) / "warm", 20)
        for n in sizes:
            root = Path(tmp) / f"n{n}"
            measure(url, root, n)  # fills the cache
            *_, wall = measure(url, root, n)
            print(f"cached re-run, N={n}: run_suite {wall:.3f} s (warm process)")
            print(f"cached re-run, N={n}: promptkit eval {cli_wall(root):.3f} s (fresh process)")


if __name__ == "__main__":
    main()
    print(machine_load())
