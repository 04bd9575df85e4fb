"""(b) Efficiency at 200 ms latency: (N x latency / concurrency) / wall time.

N=1000 cases, concurrency 64, lean oai/ path, fake server in its own process,
no cache (every case is a real request). 1.0 would mean the harness adds no
time at all to what the latency itself imposes. Wall time is that of run_suite,
summary included; modules are imported by a warm-up run first.

    python bench/efficiency.py [N] [LATENCY_MS] [CONCURRENCY]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _fake import fake_server
from harness_cpu import measure


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    latency_ms = float(sys.argv[2]) if len(sys.argv) > 2 else 200.0
    concurrency = int(sys.argv[3]) if len(sys.argv) > 3 else 64
    with fake_server("--latency-ms", str(latency_ms)) as url, tempfile.TemporaryDirectory() as tmp:
        measure(url, Path(tmp) / "warm", 20, cache=False)
        ideal = n * latency_ms / 1000 / concurrency
        *_, wall = measure(url, Path(tmp) / "run", n, cache=False, concurrency=concurrency)
        print(
            f"efficiency: {ideal / wall:.3f} (ideal {ideal:.3f} s / wall {wall:.3f} s; "
            f"N={n}, latency {latency_ms:g} ms, concurrency {concurrency})"
        )


if __name__ == "__main__":
    main()
