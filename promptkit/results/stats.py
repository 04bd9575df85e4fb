"""Statistics on scores, built on scipy rather than hand-written distributions."""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, replace
from statistics import NormalDist

import numpy as np

__all__ = [
    "Estimate",
    "PairedDifference",
    "cluster_interval",
    "holm",
    "macro_f1_interval",
    "mean_interval",
    "paired_cells",
    "paired_difference",
    "paired_proportion_interval",
    "paired_proportion_intervals",
    "pass_at_k",
    "wilson_interval",
]


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


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval, the same figures as scipy's ``proportion_ci(method="wilson")``.

    Written out because it is two lines of algebra on the normal quantile (from the
    standard library), while importing scipy.stats costs half a second and 60 MB on
    every ``promptkit eval``; scipy stays in charge of the bootstrap and the tests.
    """
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    low, high = _wilson(np.array([successes / n]), np.array([float(n)]), z)
    return float(low[0]), float(high[0])


def mean_interval(values: Sequence[float], *, confidence: float = 0.95, seed: int = 0) -> Estimate:
    """Wilson for pass/fail scores, percentile bootstrap for any other bounded score.

    The values are sorted first, so the figures depend on the values alone, not on
    the order a concurrent, resumed or sharded run journaled them in.
    """
    data = np.sort(np.asarray(values, dtype=float))
    n = int(data.size)
    if n == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0, "none")
    mean = float(data.mean())
    if _is_binary(data):
        low, high = wilson_interval(int(data.sum()), n, confidence)
        return Estimate(mean, low, high, n, "wilson")
    if n == 1 or np.all(data == data[0]):
        return Estimate(mean, mean, mean, n, "degenerate")
    low, high = _bootstrap_interval(data, confidence, seed)
    return Estimate(mean, low, high, n, "bootstrap")


def cluster_interval(
    values: Sequence[float],
    clusters: Sequence[Hashable],
    *,
    confidence: float = 0.95,
    seed: int = 0,
) -> Estimate:
    """Mean and interval when samples come in clusters (a row's repeats).

    Samples of one row are not independent: treating N repeats of R rows as N x R
    draws makes the interval too narrow. Each cluster is averaged first and the
    interval is drawn over the cluster means (Wilson if they are all 0 or 1, else a
    bootstrap that resamples whole clusters), so ``n`` counts clusters.
    """
    if len(values) != len(clusters):
        raise ValueError("every value needs its cluster")
    sums: dict[Hashable, list[float]] = {}
    for value, cluster in zip(values, clusters, strict=True):
        sums.setdefault(cluster, []).append(float(value))
    means = [sum(v) / len(v) for v in sums.values()]
    estimate = mean_interval(means, confidence=confidence, seed=seed)
    if len(means) < len(values):
        estimate = replace(estimate, method=f"cluster-{estimate.method}")
    return estimate


def pass_at_k(n: int, correct: int, k: int) -> float:
    """Chance that at least one of ``k`` samples drawn from ``n`` (``correct`` passing)
    passes: the unbiased estimator of Chen et al. (2021), exact in integers."""
    if not 0 < k <= n or not 0 <= correct <= n:
        raise ValueError("need 0 < k <= n and 0 <= correct <= n")
    if n - correct < k:
        return 1.0
    return 1.0 - math.comb(n - correct, k) / math.comb(n, k)


def macro_f1_interval(
    y_true: Sequence[int],
    y_pred: Sequence[int],
    *,
    n_classes: int,
    confidence: float = 0.95,
    seed: int = 0,
    resamples: int = 2000,
) -> Estimate:
    """Macro-averaged F1 over classes ``0..n_classes-1`` with a percentile bootstrap
    interval over rows. A prediction ``>= n_classes`` (no label read) is wrong for
    every class; a reference must be a class (the caller leaves out rows without one).
    Classes absent from a resample on both sides are left out of its mean.

    Resampling rows with replacement only moves counts between the cells of the
    confusion matrix, so each resample is one multinomial draw over those cells:
    the same bootstrap, in memory that does not grow with the number of rows.
    """
    truth, pred = np.asarray(y_true, dtype=int), np.asarray(y_pred, dtype=int)
    if truth.shape != pred.shape:
        raise ValueError("every reference needs its prediction")
    if truth.size and (truth.min() < 0 or truth.max() >= n_classes or pred.min() < 0):
        # a row without a reference label has no cell in the matrix: the caller leaves it out
        raise ValueError(f"references must be classes 0..{n_classes - 1}, predictions >= 0")
    n = int(truth.size)
    if n == 0 or n_classes == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), n, "none")
    width = n_classes + 1  # the last column: no label read
    cells = truth * width + np.minimum(pred, n_classes)
    counts = np.bincount(cells, minlength=n_classes * width)
    point = float(_macro_f1(counts[None, :].reshape(1, n_classes, width))[0])
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n, counts / n, size=resamples).reshape(resamples, n_classes, width)
    scores = _macro_f1(draws)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(scores, [tail, 100 - tail])
    return Estimate(point, float(low), float(high), n, "bootstrap")


def _macro_f1(matrices: np.ndarray) -> np.ndarray:
    """Macro-F1 of each (classes x classes+1) confusion matrix: F1 = 2TP / (said + real)."""
    classes = matrices.shape[1]
    tp = matrices[:, np.arange(classes), np.arange(classes)]
    real = matrices.sum(axis=2)
    said = matrices[:, :, :classes].sum(axis=1)
    total = real + said
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(total > 0, 2 * tp / total, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a resample with no class at all
        result: np.ndarray = np.nanmean(f1, axis=1)
    return result


@dataclass(frozen=True)
class PairedDifference:
    """``b - a`` on the same rows: mean difference, its 95% interval and a paired test.

    ``method`` names the test, ``interval`` the method that made the interval.
    ``sd`` is the standard deviation of the per-row differences and ``discordance``
    the share of rows where pass/fail scores disagree (nan for graded scores): what
    :mod:`promptkit.results.power` plans sample sizes from.
    """

    mean: float
    low: float
    high: float
    p_value: float
    n: int
    method: str  # "mcnemar-exact" for pass/fail scores, else "paired-bootstrap"
    interval: str = "bootstrap"  # "newcombe-score" for pass/fail scores
    sd: float = float("nan")
    discordance: float = float("nan")

    def __str__(self) -> str:
        return f"{self.mean:+.3f} [{self.low:+.3f}, {self.high:+.3f}] p={self.p_value:.3g}"

    def interval_text(self) -> str:
        """``+0.028 [-0.071, +0.142] newcombe-score``: the interval and the method that made it,
        as every output shows them."""
        if not self.n:
            return "-"
        return f"{self.mean:+.3f} [{self.low:+.3f}, {self.high:+.3f}] {self.interval}"


def _is_binary(data: np.ndarray) -> bool:
    return bool(np.all((data == 0.0) | (data == 1.0)))


def paired_difference(
    a: Sequence[float], b: Sequence[float], *, confidence: float = 0.95, seed: int = 0
) -> PairedDifference:
    """Compare two variants scored on the same rows (``a[i]`` and ``b[i]`` share row i).

    Pass/fail scores use the exact McNemar test (a binomial test on the discordant
    pairs) and Newcombe's score interval, which stays honest when few rows disagree
    (a bootstrap gives [0, 0] when none do); other scores a paired bootstrap of the
    mean difference, with a sign-flip permutation p-value.
    """
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape:
        raise ValueError("paired scores need the same rows in the same order")
    n = int(x.size)
    if n == 0:
        nan = float("nan")
        return PairedDifference(nan, nan, nan, nan, 0, "none", "none")
    diff = y - x
    sd = float(diff.std(ddof=1)) if n > 1 else float("nan")
    cells = paired_cells(x, y)
    if cells is not None:
        from scipy.stats import binomtest

        both, b_wins, a_wins, neither = cells
        low, high = paired_proportion_interval(both, b_wins, a_wins, neither, confidence)
        discordant = a_wins + b_wins
        p = 1.0 if discordant == 0 else float(binomtest(b_wins, discordant, 0.5).pvalue)
        mean = float(diff.mean())
        return PairedDifference(
            mean, low, high, p, n, "mcnemar-exact", "newcombe-score", sd, discordant / n
        )
    low, high = _bootstrap_interval(diff, confidence, seed)
    p = _sign_flip_p(diff, seed) if n > 1 else 1.0  # one row: no test to make
    return PairedDifference(
        float(diff.mean()), low, high, p, n, "paired-bootstrap", "bootstrap", sd
    )


def paired_cells(a: np.ndarray, b: np.ndarray) -> tuple[int, int, int, int] | None:
    """The paired table of two pass/fail score arrays on the same rows: rows both passed,
    only ``b`` passed, only ``a`` passed, neither; None unless every score is 0 or 1."""
    if not (_is_binary(a) and _is_binary(b)):
        return None
    both, only_b = int(np.sum((a == 1) & (b == 1))), int(np.sum((b == 1) & (a == 0)))
    only_a = int(np.sum((a == 1) & (b == 0)))
    return both, only_b, only_a, int(a.size) - both - only_b - only_a


def paired_proportion_interval(
    both: int, only_b: int, only_a: int, neither: int, confidence: float = 0.95
) -> tuple[float, float]:
    """Interval for ``p_b - p_a`` from paired pass/fail counts: Newcombe (1998), method 10.

    The Wilson intervals of the two proportions are combined with the correlation
    of the pairs (``phi``, continuity-corrected as in the paper, and 0 when a margin
    is empty). ``both``: rows both passed; ``only_b``: b passed and a failed; and so on.
    """
    low, high = paired_proportion_intervals(
        np.array([both]), np.array([only_b]), np.array([only_a]), np.array([neither]), confidence
    )
    return float(low[0]), float(high[0])


def paired_proportion_intervals(
    both: np.ndarray,
    only_b: np.ndarray,
    only_a: np.ndarray,
    neither: np.ndarray,
    confidence: float = 0.95,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`paired_proportion_interval` for arrays of tables at once (power planning sums
    over thousands of them)."""
    both, only_b, only_a, neither = (
        np.asarray(c, dtype=float) for c in (both, only_b, only_a, neither)
    )
    n = both + only_b + only_a + neither
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p_b, p_a = (both + only_b) / n, (both + only_a) / n
    low_b, high_b = _wilson(p_b, n, z)
    low_a, high_a = _wilson(p_a, n, z)
    margins = (both + only_b) * (only_a + neither) * (both + only_a) * (only_b + neither)
    cross = both * neither - only_b * only_a
    corrected = np.where(cross > 0, np.maximum(cross - n / 2, 0.0), cross)
    phi = np.divide(corrected, np.sqrt(margins), out=np.zeros_like(n), where=margins > 0)
    below = _combined(p_b - low_b, high_a - p_a, phi)
    above = _combined(high_b - p_b, p_a - low_a, phi)
    difference = p_b - p_a
    return np.maximum(-1.0, difference - below), np.minimum(1.0, difference + above)


def _wilson(p: np.ndarray, n: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    spread = z * z / n
    centre = (p + spread / 2) / (1 + spread)
    half = z * np.sqrt(p * (1 - p) / n + spread / (4 * n)) / (1 + spread)
    return np.maximum(0.0, centre - half), np.minimum(1.0, centre + half)


def _combined(one: np.ndarray, other: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Square and add two one-sided distances, less their covariance."""
    distance: np.ndarray = np.sqrt(np.maximum(0.0, one * one - 2 * phi * one * other + other**2))
    return distance


def _bootstrap_interval(data: np.ndarray, confidence: float, seed: int) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean; a point when every value is the same."""
    if data.size < 2 or np.all(data == data[0]):
        return float(data.mean()), float(data.mean())
    from scipy.stats import bootstrap

    result = bootstrap(
        (data,),
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
