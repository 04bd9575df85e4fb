"""What the paired statistics cost on 1000 rows: Newcombe's interval (pass/fail), the
bootstrap (graded) and the gate's power line. Prints milliseconds per call.

    python bench/stats_overhead.py
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from promptkit.results.power import detectable_difference, plan_power
from promptkit.results.stats import paired_difference


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
    print(
        f"gate power line, pass/fail, 1000 rows: {_ms(lambda: plan_power('', '', binary)):.2f} ms"
    )
    for rows in (36, 300, 3000, 30000):
        took = _ms(lambda rows=rows: detectable_difference("pass/fail", 0.1, rows), repeat=5)
        print(f"detectable difference at {rows} rows: {took:.2f} ms")


if __name__ == "__main__":
    main()
