"""Start the fake OpenAI-compatible server (tests/fake_server.py) as its own process,
so the CPU time a benchmark measures is the client's alone."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def fake_server(*args: str) -> Iterator[str]:
    """Yield the server's base URL (``http://127.0.0.1:PORT/v1``); stop it afterwards."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_server", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"fake server did not start: {line!r}")
        yield f"http://127.0.0.1:{int(line.split()[1])}/v1"
    finally:
        process.terminate()
        process.wait(10)


def machine_load() -> str:
    """The load average, printed beside timings taken on a shared machine."""
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
