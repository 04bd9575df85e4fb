"""(a) Harness CPU per case: N cases at 0 ms latency, concurrency 64, lean oai/ path.

The fake server runs in its own process; this process's CPU time (user + system,
os.times) around run_suite covers rendering, the HTTP request, parsing,
scoring, journaling, the cache and the summary. Modules are imported by a small
warm-up run first, so the figure is per case, not per process start.

    python bench/harness_cpu.py [N]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _fake import fake_server, machine_load
from _project import make_project

from promptkit import RunOptions, load_suite, run_suite


def measure(url: str, root: Path, n: int, *, cache: bool = True) -> tuple[float, float, float]:
    """(user CPU s, system CPU s, wall s) of one run of ``n`` cases."""
    suite = load_suite(make_project(root, n, f"{{name: oai/fake, api_base: '{url}'}}"))
    before, wall = os.times(), time.perf_counter()
    options = RunOptions(concurrency=64, cache=cache)
    result = run_suite(suite, options, root=root / ".promptkit" / "runs")
    after, wall = os.times(), time.perf_counter() - wall
    assert result.cases == n and result.errors == 0, result
    return after.user - before.user, after.system - before.system, wall


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    with fake_server("--latency-ms", "0") as url, tempfile.TemporaryDirectory() as tmp:
        measure(url, Path(tmp) / "warm", 20)  # imports aiohttp, pandas, scipy once
        for label, cache in (("cache on (writes)", True), ("no cache", False)):
            user, system, wall = measure(url, Path(tmp) / label.replace(" ", "_"), n, cache=cache)
            print(
                f"harness CPU, {label}: {(user + system) * 1000 / n:.3f} ms/case "
                f"(user {user * 1000 / n:.3f} + system {system * 1000 / n:.3f}; "
                f"N={n}, concurrency 64, 0 ms latency; wall {wall:.2f} s)"
            )


if __name__ == "__main__":
    main()
    print(machine_load())
