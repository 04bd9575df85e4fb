"""``concurrency: auto`` against fixed windows, on servers that serve C requests at once.

For each server (the fake one with capacity 1, 4 and no limit; with ``--llama`` also
``python -m llama_cpp.server`` serving the embedded SmolLM2, which answers one request
at a time), N cases run on the lean ``oai/`` path, no cache, at a fixed concurrency
of 1, 4, 16 and 64 and at ``auto``. Printed per setting: throughput (cases/s, wall
of run_suite), the median and p90 latency per call (the journal's ``latency_s``:
queueing at the server included) and, for auto, the window it settled on.

The targets (issue 14): auto's throughput within 10% of the best fixed setting, its
latency per call within 2x of an idle server's (the median at concurrency 1).

    python bench/concurrency_auto.py [N] [LATENCY_MS] [--llama [N_LLAMA]] [--only-llama]
"""

from __future__ import annotations

import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _fake import fake_server, machine_load
from _project import make_project

from promptkit import RunOptions, load_run, load_suite, run_suite

SETTINGS: tuple[int | str, ...] = (1, 4, 16, 64, "auto")


@dataclass(frozen=True)
class Figures:
    setting: int | str
    throughput: float  # cases per second
    median_s: float
    p90_s: float
    window: dict[str, Any] | None  # auto's record, else None


def one_run(url: str, model: str, root: Path, n: int, setting: int | str) -> Figures:
    suite = load_suite(make_project(root, n, f"{{name: {model}, api_base: '{url}'}}"))
    runs = root / ".promptkit" / "runs"
    started = time.perf_counter()
    result = run_suite(suite, RunOptions(concurrency=setting, cache=False), root=runs)
    wall = time.perf_counter() - started
    assert result.cases == n and result.errors == 0, result
    latency = sorted(float(x) for x in load_run(result.run_id, root=runs)["latency_s"])
    p90 = latency[min(len(latency) - 1, int(0.9 * len(latency)))]
    window = result.concurrency.get(model)
    return Figures(setting, n / wall, statistics.median(latency), p90, window)


def compare(title: str, url: str, model: str, n: int, tmp: Path) -> None:
    one_run(url, model, tmp / f"warm-{title}", 4, 1)  # imports and connections first
    figures = [one_run(url, model, tmp / f"{title}-{s}", n, s) for s in SETTINGS]
    idle = figures[0].median_s  # one request at a time: nothing of ours queues
    best = max((f for f in figures if f.setting != "auto"), key=lambda f: f.throughput)
    print(f"\n{title}: N={n}; idle latency (median at concurrency 1) {idle * 1000:.0f} ms")
    for f in figures:
        settled = ""
        if f.window is not None:
            w = f.window
            settled = (
                f"  settled {w['settled']} (used {w['lowest']}-{w['highest']}, "
                f"{w['latency_cuts']} latency cuts, {w['drops']} drops)"
            )
        print(
            f"  concurrency {f.setting!s:>4}: {f.throughput:7.2f} cases/s  "
            f"median {f.median_s * 1000:7.0f} ms ({f.median_s / idle:4.1f}x idle)  "
            f"p90 {f.p90_s * 1000:7.0f} ms ({f.p90_s / idle:4.1f}x){settled}"
        )
    auto = figures[-1]
    print(
        f"  auto: {auto.throughput / best.throughput:.2f} of the best fixed throughput "
        f"(concurrency {best.setting}); median latency {auto.median_s / idle:.1f}x idle, "
        f"p90 {auto.p90_s / idle:.1f}x"
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def llama_server(log: Path) -> Iterator[str]:
    """``python -m llama_cpp.server`` on the embedded SmolLM2 (as tests/test_runner_llama_server.py
    starts it); yields its base URL."""
    from promptkit.providers.local import smollm2_path

    port = _free_port()
    command = [
        *(sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_path())),
        *("--model_alias", "smollm2", "--chat_format", "chatml", "--host", "127.0.0.1"),
        *("--port", str(port), "--n_ctx", "2048", "--n_threads", str(min(4, os.cpu_count() or 1))),
    ]
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_until_ready(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(20)


def _wait_until_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited with {process.returncode}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{url}/models", timeout=2) as reply,
        ):
            if reply.status == 200:
                return
        time.sleep(0.25)
    raise RuntimeError("llama_cpp.server did not become ready")


def main(argv: Sequence[str]) -> None:
    args = list(argv)
    fake = "--only-llama" not in args
    args = [a for a in args if a != "--only-llama"]
    llama_n = None if fake else 24
    if "--llama" in args:
        at = args.index("--llama")
        follows = args[at + 1 : at + 2]
        llama_n = int(follows[0]) if follows and follows[0].isdigit() else 24
        del args[at : at + 1 + (1 if follows and follows[0].isdigit() else 0)]
    n = int(args[0]) if args else 200
    latency_ms = float(args[1]) if len(args) > 1 else 100.0
    print(f"concurrency auto vs fixed; {machine_load()}")
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        for capacity in (1, 4, 0) if fake else ():
            label = f"capacity {capacity}" if capacity else "no capacity limit"
            with fake_server("--latency-ms", str(latency_ms), "--capacity", str(capacity)) as url:
                compare(f"fake server, {latency_ms:g} ms, {label}", url, "oai/fake", n, tmp)
        if llama_n is not None:
            with llama_server(tmp / "llama.log") as url:
                compare("llama_cpp.server, SmolLM2, one slot", url, "oai/smollm2", llama_n, tmp)
    print(f"\n{machine_load()}")


if __name__ == "__main__":
    main(sys.argv[1:])
