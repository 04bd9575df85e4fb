"""(d) Peak memory (max RSS) of a 100,000-case run on the mock provider.

Each shape runs `promptkit eval` in a child process; the child's peak resident
set size comes from resource.getrusage(RUSAGE_CHILDREN) after it exits. Shapes:

    10,000 rows x repeat 10     the runner's own footprint (dataset is small)
    100,000 rows x 1            adds the dataset, which datasets.py holds in memory
    baseline: 1 row             imports alone (numpy, pandas, scipy, jinja2, rich...)

    python bench/memory.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _fake import REPO, machine_load
from _project import make_project

SHAPES = (
    ("1 row (imports only)", 1, 1),
    ("10,000 rows x repeat 10", 10_000, 10),
    ("100,000 rows x 1", 100_000, 1),
)


def peak_of_eval(root: Path) -> tuple[float, float, str]:
    """(peak RSS in MB, wall s, last stdout line) of one eval in a child process."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    script = (
        "import resource, subprocess, sys\n"
        "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
        "print(done.returncode, peak, done.stdout.strip().splitlines()[-1])\n"
    )
    command = [sys.executable, "-m", "promptkit", "eval", "evals/bench.yaml", "--quiet"]
    started = time.perf_counter()
    # A fresh parent per shape, so RUSAGE_CHILDREN holds only this eval.
    out = subprocess.run(
        [sys.executable, "-c", script, *command],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split(maxsplit=2)
    assert out[0] == "0", out
    return float(out[1]), time.perf_counter() - started, out[2]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for label, rows, repeat in SHAPES:
            root = Path(tmp) / f"r{rows}x{repeat}"
            make_project(root, rows, "mock/echo", extra=f"repeat: {repeat}\n")
            peak, wall, last = peak_of_eval(root)
            cases = last.split(":")[1].split("->")[0].strip()
            print(f"peak RSS, {label}: {peak:.0f} MB (wall {wall:.1f} s; {cases})")


if __name__ == "__main__":
    main()
    print(machine_load())
