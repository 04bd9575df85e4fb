"""Throughput of SmolLM2 in process: llama.cpp (local/) versus transformers (hf/), batched.

Every configuration answers the same requests (sentiment@v1 on the sentiment
suite's rows, repeated to --cases), all submitted at once as the runner would,
greedy, with max_tokens fixed. tokens/s counts generated tokens only; cases/s
counts whole answers. Loading the model and one warm-up request are not timed.

    python bench/bench_hf.py                                  # CPU: local, hf batch 1, 8, 32
    python bench/bench_hf.py --threads 1                      # a CPU shared with other work
    python bench/bench_hf.py --batch-sizes 1 8 32 128 --cases 128 --skip-local   # a GPU
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptkit import Completion, Provider, Request, get_provider, load_suite
from promptkit.run.plan import Planner

SUITE = Path(__file__).resolve().parents[1] / "evals" / "sentiment.yaml"


@dataclass(frozen=True)
class Figures:
    name: str
    seconds: float
    cases: int
    tokens: int

    def line(self) -> str:
        return (
            f"{self.name:<22} {self.cases:>6} {self.tokens:>8} {self.seconds:>9.2f}"
            f" {self.tokens / self.seconds:>9.1f} {self.cases / self.seconds:>8.2f}"
        )


def bench_requests(model: str, cases: int, max_tokens: int) -> list[Request]:
    suite = load_suite(SUITE).with_prompts(["sentiment@v1"])
    rendered = [plan.request for plan in Planner(suite).cases()]
    params = {"temperature": 0, "max_tokens": max_tokens}
    return [
        Request(model=model, messages=r.messages, params=params)
        for r in itertools.islice(itertools.cycle(rendered), cases)
    ]


async def answer_all(provider: Provider, requests: list[Request]) -> list[Completion]:
    try:
        return await asyncio.gather(*(provider.complete(r) for r in requests))
    finally:
        await provider.aclose()


def measure(name: str, model: str, options: dict[str, Any], args: argparse.Namespace) -> Figures:
    provider = get_provider(model, options)
    requests = bench_requests(model, args.cases, args.max_tokens)
    asyncio.run(answer_all(provider, requests[:1]))  # warm-up: first-call overheads
    started = time.perf_counter()
    answers = asyncio.run(answer_all(provider, requests))
    seconds = time.perf_counter() - started
    tokens = sum(a.completion_tokens for a in answers)
    return Figures(name, seconds, len(answers), tokens)


def context(args: argparse.Namespace) -> str:
    import torch

    hf = get_provider("hf/smollm2", {"device": args.device, "dtype": args.dtype})
    gpu = f" ({torch.cuda.get_device_name()})" if hf.device.startswith("cuda") else ""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, load average {load}; torch "
        f"{torch.__version__}, {torch.get_num_threads()} threads; hf/ on {hf.device}{gpu} "
        f"in {hf.dtype}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=32)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--skip-local", action="store_true", help="leave out llama.cpp")
    parser.add_argument(
        "--threads", type=int, help="CPU threads for torch and llama.cpp (default: theirs)"
    )
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)  # process-wide: torch has no per-model setting
    print(context(args))
    print(f"{args.cases} cases, greedy, max_tokens {args.max_tokens}, sentiment@v1 prompts")
    print(f"{'model':<22} {'cases':>6} {'tokens':>8} {'seconds':>9} {'tokens/s':>9} {'cases/s':>8}")
    if not args.skip_local:
        local_options = {"n_threads": args.threads} if args.threads else {}
        print(measure("local/smollm2", "local/smollm2", local_options, args).line(), flush=True)
    for size in args.batch_sizes:
        options = {"device": args.device, "dtype": args.dtype, "max_batch_size": size}
        print(measure(f"hf/smollm2 batch {size}", "hf/smollm2", options, args).line(), flush=True)


if __name__ == "__main__":
    main()
