"""Client CPU per call: the lean oai/ path (aiohttp) against litellm (openai/...).

N chat calls at concurrency 64 against the fake server (its own process, 0 ms
latency), straight through Provider.complete: no runner, cache or journal. CPU
is this process's user + system time (os.times); imports and a warm-up of 20
calls come first and are not counted. Import time is measured in a fresh process.

    python bench/providers.py [N]
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _fake import REPO, fake_server

from promptkit import Message, Request, get_provider


async def calls(model: str, url: str, n: int) -> None:
    provider = get_provider(model, {"api_base": url})
    slots = asyncio.Semaphore(64)

    async def one(i: int) -> None:
        request = Request(model, (Message("user", f"Review {i}: fine."),), {"max_tokens": 8})
        async with slots:
            answer = await provider.complete(request)
        assert answer.text

    await asyncio.gather(*(one(i) for i in range(n)))
    await provider.aclose()


def import_seconds(module: str) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    env = {**os.environ, "PYTHONPATH": str(REPO), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    return float(out.stdout.strip())


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    with fake_server("--latency-ms", "0") as url:
        for model, library in (("oai/fake", "aiohttp"), ("openai/fake", "litellm")):
            asyncio.run(calls(model, url, 20))  # imports, connection set-up
            before = os.times()
            asyncio.run(calls(model, url, n))
            after = os.times()
            cpu = (after.user - before.user) + (after.system - before.system)
            print(
                f"{model:12} ({library}): {cpu * 1000 / n:.3f} ms client CPU per call "
                f"(N={n}, concurrency 64); import {import_seconds(library):.2f} s"
            )


if __name__ == "__main__":
    main()
