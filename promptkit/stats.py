"""Statistics on scores, built on scipy rather than hand-written distributions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Estimate", "mean_interval"]


@dataclass(frozen=True)
class Estimate:
    """A mean with its 95% interval; ``method`` says how the interval was made."""

    mean: float
    low: float
    high: float
    n: int
    method: str

    def __str__(self) -> str:
        if self.n == 0:
            return "-"
        return f"{self.mean:.3f} [{self.low:.3f}, {self.high:.3f}]"


def mean_interval(values: Sequence[float], *, confidence: float = 0.95, seed: int = 0) -> Estimate:
    """Wilson for pass/fail scores, percentile bootstrap for any other bounded score."""
    data = np.asarray(values, dtype=float)
    n = int(data.size)
    if n == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0, "none")
    mean = float(data.mean())
    if np.all((data == 0.0) | (data == 1.0)):
        from scipy.stats import binomtest

        ci = binomtest(int(data.sum()), n).proportion_ci(confidence, method="wilson")
        return Estimate(mean, float(ci.low), float(ci.high), n, "wilson")
    if n == 1 or np.all(data == data[0]):
        return Estimate(mean, mean, mean, n, "degenerate")
    from scipy.stats import bootstrap

    result = bootstrap(
        (data,),
        np.mean,
        confidence_level=confidence,
        n_resamples=2000,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    ci = result.confidence_interval
    return Estimate(mean, float(ci.low), float(ci.high), n, "bootstrap")
