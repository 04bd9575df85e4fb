"""Statistics on scores, built on scipy rather than hand-written distributions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Estimate", "PairedDifference", "holm", "mean_interval", "paired_difference"]


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


@dataclass(frozen=True)
class PairedDifference:
    """``b - a`` on the same rows: mean difference, its 95% interval and a paired test."""

    mean: float
    low: float
    high: float
    p_value: float
    n: int
    method: str  # "mcnemar-exact" for pass/fail scores, else "paired-bootstrap"

    def __str__(self) -> str:
        return f"{self.mean:+.3f} [{self.low:+.3f}, {self.high:+.3f}] p={self.p_value:.3g}"


def _is_binary(data: np.ndarray) -> bool:
    return bool(np.all((data == 0.0) | (data == 1.0)))


def paired_difference(
    a: Sequence[float], b: Sequence[float], *, confidence: float = 0.95, seed: int = 0
) -> PairedDifference:
    """Compare two variants scored on the same rows (``a[i]`` and ``b[i]`` share row i).

    Pass/fail scores use the exact McNemar test (a binomial test on the discordant
    pairs); other scores a paired bootstrap of the mean difference, with a
    sign-flip permutation p-value.
    """
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape:
        raise ValueError("paired scores need the same rows in the same order")
    n = int(x.size)
    if n == 0:
        nan = float("nan")
        return PairedDifference(nan, nan, nan, nan, 0, "none")
    diff = y - x
    low, high = _bootstrap_interval(diff, confidence, seed)
    if _is_binary(x) and _is_binary(y):
        from scipy.stats import binomtest

        b_wins = int(np.sum((y == 1) & (x == 0)))
        a_wins = int(np.sum((x == 1) & (y == 0)))
        discordant = a_wins + b_wins
        p = 1.0 if discordant == 0 else float(binomtest(b_wins, discordant, 0.5).pvalue)
        return PairedDifference(float(diff.mean()), low, high, p, n, "mcnemar-exact")
    return PairedDifference(
        float(diff.mean()), low, high, _sign_flip_p(diff, seed), n, "paired-bootstrap"
    )


def _bootstrap_interval(diff: np.ndarray, confidence: float, seed: int) -> tuple[float, float]:
    if diff.size < 2 or np.all(diff == diff[0]):
        return float(diff.mean()), float(diff.mean())
    from scipy.stats import bootstrap

    result = bootstrap(
        (diff,),
        np.mean,
        confidence_level=confidence,
        n_resamples=2000,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def _sign_flip_p(diff: np.ndarray, seed: int) -> float:
    if np.all(diff == 0):
        return 1.0
    from scipy.stats import permutation_test

    result = permutation_test(
        (diff,),
        np.mean,
        permutation_type="samples",
        n_resamples=5000,
        alternative="two-sided",
        rng=np.random.default_rng(seed),
    )
    return float(result.pvalue)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the input order."""
    # scipy offers only Benjamini-Hochberg; Holm is a step-down loop over sorted p-values.
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted
