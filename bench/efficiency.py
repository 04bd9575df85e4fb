"""(b) Efficiency at 200 ms latency: (N x latency / concurrency) / wall time.

N=1000 cases, concurrency 64, lean oai/ path, fake server in its own process,
no cache (every case is a real request). 1.0 would mean the harness adds no
time at all to what the latency itself imposes. Wall time is that of run_suite,
summary included; modules are imported by a warm-up run first.

Also printed, to tell the harness from the machine: the mean latency the client
saw per request (server, network and HTTP parsing on top of the nominal 200 ms)
and slot utilisation, the share of the wall time the 64 slots held a request.

    python bench/efficiency.py [N] [LATENCY_MS] [CONCURRENCY] [REPEATS]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _fake import fake_server, machine_load
from _project import make_project

from promptkit import RunOptions, load_run, load_suite, run_suite


def one_run(url: str, root: Path, n: int, concurrency: int) -> tuple[float, float, float]:
    """(wall s, mean request latency s, slot utilisation) of one run."""
    suite = load_suite(make_project(root, n, f"{{name: oai/fake, api_base: '{url}'}}"))
    runs = root / ".promptkit" / "runs"
    started = time.perf_counter()
    result = run_suite(suite, RunOptions(concurrency=concurrency, cache=False), root=runs)
    wall = time.perf_counter() - started
    assert result.cases == n and result.errors == 0, result
    latency = load_run(result.run_id, root=runs)["latency_s"]
    return wall, float(latency.mean()), float(latency.sum()) / concurrency / wall


def main() -> None:
    n, latency_ms, concurrency, repeats = (
        int(sys.argv[1]) if len(sys.argv) > 1 else 1000,
        float(sys.argv[2]) if len(sys.argv) > 2 else 200.0,
        int(sys.argv[3]) if len(sys.argv) > 3 else 64,
        int(sys.argv[4]) if len(sys.argv) > 4 else 5,
    )
    ideal = n * latency_ms / 1000 / concurrency
    with fake_server("--latency-ms", str(latency_ms)) as url, tempfile.TemporaryDirectory() as tmp:
        one_run(url, Path(tmp) / "warm", 20, concurrency)
        results = [one_run(url, Path(tmp) / f"r{i}", n, concurrency) for i in range(repeats)]
    for wall, latency, utilisation in results:
        print(
            f"efficiency {ideal / wall:.3f} (ideal {ideal:.3f} s / wall {wall:.3f} s); "
            f"request latency seen {latency * 1000:.1f} ms; slot utilisation {utilisation:.3f}"
        )
    walls = [r[0] for r in results]
    print(
        f"efficiency, median of {repeats}: {ideal / statistics.median(walls):.3f} "
        f"(N={n}, latency {latency_ms:g} ms, concurrency {concurrency}; {machine_load()})"
    )


if __name__ == "__main__":
    main()
