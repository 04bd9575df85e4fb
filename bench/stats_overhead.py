"""What the paired statistics cost on 1000 rows: Newcombe's interval (pass/fail), the
bootstrap (graded), the gate's resolution line and the cost-quality front that every
summary of several variants computes. Prints milliseconds per call.

    python bench/stats_overhead.py
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

from promptkit.results.margin import margin_plan
from promptkit.results.power import detectable_difference
from promptkit.results.stats import paired_difference
from promptkit.results.summary import _with_front, summarize


def _ms(work: Callable[[], object], repeat: int = 20) -> float:
    work()  # imports and caches outside the timing
    start = time.perf_counter()
    for _ in range(repeat):
        work()
    return (time.perf_counter() - start) / repeat * 1000


def main() -> None:
    rng = np.random.default_rng(0)
    a = (rng.random(1000) < 0.8).astype(float).tolist()
    b = [x if rng.random() > 0.05 else 1 - x for x in a]
    graded_a, graded_b = rng.random(1000).tolist(), rng.random(1000).tolist()
    binary = paired_difference(a, b)
    print(
        f"paired_difference, pass/fail, 1000 rows (Newcombe + exact McNemar): "
        f"{_ms(lambda: paired_difference(a, b)):.2f} ms"
    )
    print(
        f"paired_difference, graded, 1000 rows (bootstrap + sign-flip): "
        f"{_ms(lambda: paired_difference(graded_a, graded_b)):.2f} ms"
    )
    gate = _ms(lambda: margin_plan(1000, binary.discordance, 0.8, 0.02, "pass/fail"))
    print(f"gate resolution line (margin_plan), pass/fail, 1000 rows: {gate:.2f} ms")
    frame = _journal_frame(rng, rows=1000, variants=4)
    summaries = summarize(frame, ["ok"])
    print(f"summarize, 1000 rows x 4 variants: {_ms(lambda: summarize(frame, ['ok']), 5):.2f} ms")
    front = _ms(lambda: _with_front(summaries, frame, ["ok"]), 5)
    print(f"  of which the cost-quality front: {front:.2f} ms")
    for rows in (36, 300, 3000, 30000):
        took = _ms(lambda rows=rows: detectable_difference("pass/fail", 0.1, rows), repeat=5)
        print(f"detectable difference at {rows} rows: {took:.2f} ms")


def _journal_frame(rng: np.random.Generator, rows: int, variants: int) -> pd.DataFrame:
    """A journal as load_run gives it: pass/fail scores, tokens and a cost per case."""
    import pandas as pd

    records = [
        {
            "variant": f"p@v1 | mock/m | k={k}",
            "prompt": "p@v1",
            "model": "mock/m",
            "shots": str(k),
            "row_id": f"r{i}",
            "repeat": 0,
            "error": None,
            "prompt_tokens": 50 + 40 * k,
            "completion_tokens": 5,
            "latency_s": 0.01,
            "cost": 0.0,
            "cached": False,
            "score.ok": float(rng.random() < 0.6 + 0.05 * k),
        }
        for k in range(variants)
        for i in range(rows)
    ]
    return pd.DataFrame(records)


if __name__ == "__main__":
    main()
