"""An LLM judge against human verdicts: how often it agrees, and what it does to a pass rate.

A suite that gives ``llm_judge`` a column of human verdicts (``human: COLUMN``) gets,
per variant, on the rows that carry one (judge verdict: the row's mean verdict >= 0.5):

- the 2 x 2 confusion, judge pass/fail x human pass/fail;
- sensitivity (judge passes what humans pass) and specificity (judge fails what humans
  fail), each with a Wilson interval;
- Cohen's kappa, agreement beyond chance, with a large-sample interval;
- the judged pass rate over *every* row, raw (Wilson) and corrected for the judge's
  error rates by Rogan and Gladen (1978), with an interval that carries the uncertainty
  of the pass rate and of the sensitivity and specificity it was corrected with.

Humans are the truth here: "sensitivity" is the judge's pass rate on rows humans
passed. Rows without a human verdict count towards the judged pass rate only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from promptkit.results.stats import Estimate, wilson_interval

__all__ = [
    "JudgeCalibration",
    "calibrate",
    "cohen_kappa",
    "corrected_rate",
    "rogan_gladen",
]

_NONE = Estimate(float("nan"), float("nan"), float("nan"), 0, "none")
#: Draws of the corrected pass rate's Monte Carlo interval: the 2.5% tail then holds
#: 100 draws, enough for its percentile to move by well under 0.01 between seeds.
DRAWS = 4000


@dataclass(frozen=True)
class JudgeCalibration:
    """A judge's verdicts against the human verdicts of one dataset column."""

    column: str  # the dataset column holding the human verdicts
    true_pass: int  # judge pass, human pass
    false_pass: int  # judge pass, human fail
    false_fail: int  # judge fail, human pass
    true_fail: int  # judge fail, human fail
    unlabelled: int  # judged rows without a human verdict: left out of the calibration
    sensitivity: Estimate  # share of human passes the judge passed (Wilson)
    specificity: Estimate  # share of human fails the judge failed (Wilson)
    kappa: Estimate  # Cohen's kappa, Wald interval on the large-sample standard error
    judged_rate: Estimate  # share of every judged row the judge passed (Wilson)
    corrected_rate: Estimate  # Rogan-Gladen; n == 0 when the judge is no better than chance

    @property
    def rows(self) -> int:
        """Rows with both a judge and a human verdict."""
        return self.true_pass + self.false_pass + self.false_fail + self.true_fail

    def confusion(self) -> dict[str, dict[str, int]]:
        """Judge verdict down, human verdict across."""
        return {
            "judge pass": {"human pass": self.true_pass, "human fail": self.false_pass},
            "judge fail": {"human pass": self.false_fail, "human fail": self.true_fail},
        }


def calibrate(column: str, verdicts: Sequence[tuple[bool, bool | None]]) -> JudgeCalibration:
    """Figures from one ``(judge passed, human verdict or None)`` pair per row."""
    labelled = [(judge, human) for judge, human in verdicts if human is not None]
    cells = [sum(j == a and h == b for j, h in labelled) for a, b in _CELLS]
    true_pass, false_pass, false_fail, true_fail = cells
    others = [judge for judge, human in verdicts if human is None]
    passed = true_pass + false_pass + sum(others)
    return JudgeCalibration(
        column=column,
        true_pass=true_pass,
        false_pass=false_pass,
        false_fail=false_fail,
        true_fail=true_fail,
        unlabelled=len(others),
        sensitivity=_share(true_pass, true_pass + false_fail),
        specificity=_share(true_fail, true_fail + false_pass),
        kappa=cohen_kappa(true_pass, false_pass, false_fail, true_fail),
        judged_rate=_share(passed, len(verdicts)),
        corrected_rate=corrected_rate(
            (true_pass, false_pass, false_fail, true_fail),
            (sum(others), len(others) - sum(others)),
        ),
    )


#: (judge passed, human passed) of each cell, in JudgeCalibration's order.
_CELLS = ((True, True), (True, False), (False, True), (False, False))


def _share(successes: int, n: int) -> Estimate:
    if n == 0:
        return _NONE
    low, high = wilson_interval(successes, n)
    return Estimate(successes / n, low, high, n, "wilson")


def _z(confidence: float) -> float:
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def cohen_kappa(
    true_pass: int, false_pass: int, false_fail: int, true_fail: int, *, confidence: float = 0.95
) -> Estimate:
    """Cohen's kappa of judge and humans, with a Wald interval clipped to [-1, 1].

    The standard error is the large-sample one of Fleiss, Cohen and Everitt (1969),
    the one statsmodels' ``cohens_kappa`` reports; with few rows, or agreement near
    perfect, it is too narrow. Undefined (n == 0) when both sides gave one verdict only.
    """
    n = true_pass + false_pass + false_fail + true_fail
    # kappa = (n * agreed - by_chance) / (n^2 - by_chance), in integers: exactly 0 for a
    # judge that always says the same, never -1e-17
    by_chance = (true_pass + false_pass) * (true_pass + false_fail)
    by_chance += (false_fail + true_fail) * (false_pass + true_fail)
    if n == 0 or by_chance == n * n:
        return _NONE
    kappa = (n * (true_pass + true_fail) - by_chance) / (n * n - by_chance)
    table = np.array([[true_pass, false_pass], [false_fail, true_fail]], dtype=float) / n
    judge, human = table.sum(axis=1), table.sum(axis=0)  # the judge's and the humans' shares
    chance = by_chance / (n * n)
    diagonal = np.diag(table) * (1 - (judge + human) * (1 - kappa)) ** 2
    spread = (human[:, None] + judge[None, :]) ** 2  # cell (i, j) weighs p_.i + p_j.
    off = table * spread * (1 - np.eye(2))
    variance = (
        diagonal.sum() + (1 - kappa) ** 2 * off.sum() - (kappa - chance * (1 - kappa)) ** 2
    ) / (n * (1 - chance) ** 2)
    half = _z(confidence) * math.sqrt(max(float(variance), 0.0))
    return Estimate(kappa, max(-1.0, kappa - half), min(1.0, kappa + half), n, "large-sample")


def rogan_gladen(judged_rate: float, sensitivity: float, specificity: float) -> float | None:
    """The pass rate corrected for the judge's errors, ``(p + Sp - 1) / (Se + Sp - 1)``
    clipped to [0, 1]; None when ``Se + Sp <= 1`` (a judge no better than chance)."""
    youden = sensitivity + specificity - 1
    if youden <= 0:
        return None
    return min(1.0, max(0.0, (judged_rate + specificity - 1) / youden))


def corrected_rate(
    labelled: tuple[int, int, int, int],
    unlabelled: tuple[int, int] = (0, 0),
    *,
    confidence: float = 0.95,
    seed: int = 0,
) -> Estimate:
    """Rogan-Gladen pass rate over every judged row, with a resampling interval.

    ``labelled`` is the confusion on the human-labelled rows (true pass, false pass,
    false fail, true fail); ``unlabelled`` the judge's (passes, fails) on the other
    rows. The interval is a Bayesian bootstrap over rows: ``DRAWS`` draws of the
    cells' shares from Dirichlet(count + 1/2) (Jeffreys' half-count on each cell),
    each giving a judged rate, a sensitivity and a specificity, corrected and clipped;
    the interval is the central ``confidence`` share of the results. Drawing the
    cells together keeps what the three share (labelled rows are judged rows too):
    with every row labelled the corrected rate is the humans' pass rate and so is
    its interval. The half-counts keep a judge that made no mistake on ten rows
    from looking perfect in every draw, as a plain bootstrap would. Draws in which
    the judge is no better than chance (Se + Sp <= 1) have no corrected rate; when
    they are more than one tail's share, the interval is [0, 1]. The coverage test
    in ``tests/test_judge_calibration.py`` checks the level by simulation.
    """
    true_pass, false_pass, false_fail, true_fail = labelled
    judged = sum(labelled) + sum(unlabelled)
    human_pass, human_fail = true_pass + false_fail, true_fail + false_pass
    if not human_pass or not human_fail:
        return _NONE
    passed = true_pass + false_pass + unlabelled[0]
    point = rogan_gladen(passed / judged, true_pass / human_pass, true_fail / human_fail)
    if point is None:
        return _NONE
    counts = list(labelled) + (list(unlabelled) if sum(unlabelled) else [])
    shares = np.random.default_rng(seed).dirichlet(np.asarray(counts) + 0.5, size=DRAWS)
    tp, fp, fn, tn = shares[:, 0], shares[:, 1], shares[:, 2], shares[:, 3]
    rate = tp + fp + (shares[:, 4] if shares.shape[1] > 4 else 0.0)
    se, sp = tp / (tp + fn), tn / (tn + fp)
    youden = se + sp - 1
    useful = youden > 0
    tail = (1 - confidence) / 2
    method = "rogan-gladen bayesian-bootstrap"
    if 1 - useful.mean() > tail:
        return Estimate(point, 0.0, 1.0, judged, method)
    corrected = np.clip((rate[useful] + sp[useful] - 1) / youden[useful], 0.0, 1.0)
    low, high = np.quantile(corrected, [tail, 1 - tail])
    return Estimate(point, float(low), float(high), judged, method)
