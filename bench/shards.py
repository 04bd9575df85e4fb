"""A 1000-row suite as one run, and as 4 shards run side by side plus `promptkit merge`.

Each run is a fresh `promptkit eval` process against the fake server (its own
process, LATENCY ms a reply), cache off, at concurrency 8 per process: the shape
of CI jobs that each may keep 8 requests in flight. The 4 shard processes start
together, as a matrix of 4 jobs would; their wall is the slowest one's. Then
`promptkit merge` joins them, and the merged figures are compared with the single
run's (scores and intervals, case and error counts, tokens; latency is measured,
so it differs from run to run and is left out of the comparison).

    python bench/shards.py [ROWS] [LATENCY_MS]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _fake import REPO, fake_server, machine_load
from _project import make_project

SHARDS = 4
ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def _eval(root: Path, *extra: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "promptkit", "eval", "evals/bench.yaml", "--quiet"]
    command += ["--no-cache", "--concurrency", "8", *extra]
    return subprocess.Popen(command, cwd=root, env=ENV, stdout=subprocess.PIPE, text=True)


def _finish(process: subprocess.Popen[str]) -> str:
    out, _ = process.communicate()
    assert process.returncode == 0, out
    return out


def _run_folder(out: str, root: Path) -> Path:
    line = next(line for line in out.splitlines() if line.startswith("run "))
    return root / line.rsplit("-> ", 1)[1].strip()


def _figures(folder: Path) -> list[dict[str, Any]]:
    summary = json.loads((folder / "summary.json").read_text())
    keep = ("variant", "cases", "errors", "scores", "prompt_tokens", "completion_tokens")
    return [{k: v.get(k) for k in keep} for v in summary["variants"]]


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    latency = sys.argv[2] if len(sys.argv) > 2 else "100"
    with fake_server("--latency-ms", latency) as url, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_project(root, rows, f"{{name: oai/fake, api_base: '{url}'}}")
        _finish(_eval(root, "--limit", "5"))  # warm the file cache of the imports
        started = time.perf_counter()
        whole = _run_folder(_finish(_eval(root)), root)
        one_run = time.perf_counter() - started

        started = time.perf_counter()
        shards = [_eval(root, "--shard", f"{i}/{SHARDS}") for i in range(1, SHARDS + 1)]
        folders = [_run_folder(_finish(p), root) for p in shards]
        sharded = time.perf_counter() - started
        started = time.perf_counter()
        merged_out = subprocess.run(
            [sys.executable, "-m", "promptkit", "merge", *map(str, folders)],
            cwd=root,
            env=ENV,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        merge = time.perf_counter() - started
        merged = _run_folder(merged_out, root)
        same = _figures(merged) == _figures(whole)

    print(f"{rows} rows, {latency} ms latency, concurrency 8 per process, fake server")
    print(f"one run:                 {one_run:6.2f} s wall")
    print(f"{SHARDS} shards side by side: {sharded:6.2f} s wall (the slowest shard)")
    print(f"promptkit merge:         {merge:6.2f} s wall")
    print(f"shards + merge:          {sharded + merge:6.2f} s ({one_run / (sharded + merge):.2f}x)")
    print(f"merged figures identical to the single run's: {'yes' if same else 'NO'}")
    print(machine_load())


if __name__ == "__main__":
    main()
