"""Drift: has a model you do not control changed under a pinned canary suite?

    check_drift([suite, ...], [baseline file, ...])
       each suite, run with the cache bypassed (``refresh``) ──► fresh per-row scores
       paired with its baseline file's variants (``run_baseline``) ──► paired differences
       Holm across every metric of every variant of every suite: one family of tests
       a metric drifted when its Holm-adjusted p < alpha and |difference| > margin

Both conditions, because a nightly job that cries wolf gets switched off: the
adjusted p-value keeps false alarms across many metrics and suites near ``alpha``,
the margin keeps a real but negligible shift from failing the job.

Both directions count by default: a model that got better overnight has changed
under your prompts too (its labels, its format, its length), and you want to know.
``regressions_only`` counts drops only.

What the endpoints reported about the model (the replies' ``model`` names and
``system_fingerprint``) is shown before (stored in the baseline file) and after
(this run). A changed fingerprint explains drift but is not drift by itself:
providers roll fingerprints without changing answers, so the scores decide.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from promptkit.ci.baseline import read_reported, reported_by_model
from promptkit.ci.pipeline import prepare_pr
from promptkit.errors import BadInput, GateFailed
from promptkit.paths import DEFAULT_ROOT
from promptkit.results.compare import Comparison, MetricComparison, holm_family
from promptkit.run.caller import RunOptions
from promptkit.run.runner import ProgressCallback, RunResult, run_suite
from promptkit.suite import Suite, load_suite

__all__ = ["DriftReport", "MetricDrift", "SuiteDrift", "check_drift", "pair_baselines"]

#: Per model name: the distinct reported ``models`` and ``fingerprints``.
Reported = dict[str, dict[str, list[str]]]


@dataclass(frozen=True)
class MetricDrift:
    """One metric of one variant against its baseline variant."""

    suite: str
    variant: str
    base: str
    result: MetricComparison
    drifted: bool

    def __str__(self) -> str:
        r, d = self.result, self.result.difference
        if d.n == 0:
            return f"{self.variant}: {r.metric}: no rows scored by both this run and the baseline"
        return (
            f"{self.variant}: {r.metric} {r.a_mean:.3f} -> {r.b_mean:.3f}, difference "
            f"{d.interval_text()} on {d.n} rows, p (Holm) {r.p_holm:.3g}"
        )


@dataclass(frozen=True)
class SuiteDrift:
    """One suite's fresh run, its baseline file and what the endpoints reported."""

    suite: str
    baseline: Path
    run: RunResult
    before: Reported  # from the baseline file ({} for a file written before they were kept)
    after: Reported  # from this run
    notes: tuple[str, ...]  # variants not compared, or compared with a changed prompt


@dataclass(frozen=True)
class DriftReport:
    suites: list[SuiteDrift]
    metrics: list[MetricDrift]
    margin: float
    alpha: float
    regressions_only: bool

    @property
    def drifted(self) -> list[MetricDrift]:
        return [m for m in self.metrics if m.drifted]

    @property
    def passed(self) -> bool:
        return not self.drifted

    @property
    def errors(self) -> int:
        """Cases that failed in the fresh runs (their rows are left out of the tests)."""
        return sum(s.run.errors for s in self.suites)

    def raise_for_drift(self) -> None:
        """Raise :class:`GateFailed` (exit code 1) naming the first metric that drifted."""
        drifted = self.drifted
        if not drifted:
            return
        first = drifted[0]
        more = f" (and {len(drifted) - 1} more)" if len(drifted) > 1 else ""
        raise GateFailed(f"drift in {first.suite}: {first}{more}")


def pair_baselines(
    suites: Sequence[str | Path | Suite], baselines: Sequence[str | Path]
) -> list[tuple[Suite, Path]]:
    """Each suite with its baseline file: given in the same order, or one folder that
    holds ``<suite name>.json`` for each."""
    loaded = [s if isinstance(s, Suite) else load_suite(s) for s in suites]
    if len(baselines) == 1 and Path(baselines[0]).is_dir():
        folder = Path(baselines[0])
        return [(suite, folder / f"{suite.name}.json") for suite in loaded]
    if len(baselines) != len(loaded):
        raise BadInput(
            f"{len(loaded)} suites but {len(baselines)} baseline files",
            hint="give one --against FILE per suite, in the same order, "
            "or one folder holding SUITE_NAME.json for each",
        )
    return [(suite, Path(file)) for suite, file in zip(loaded, baselines, strict=True)]


def check_drift(
    suites: Sequence[str | Path | Suite],
    baselines: Sequence[str | Path],
    *,
    margin: float = 0.02,
    alpha: float = 0.05,
    regressions_only: bool = False,
    options: RunOptions | None = None,
    root: str | Path = DEFAULT_ROOT,
    on_progress: ProgressCallback | None = None,
) -> DriftReport:
    """Re-ask each suite with the cache bypassed and test every metric against its baseline.

    The verdict is returned, never raised: call :meth:`DriftReport.raise_for_drift`.
    """
    if not 0 <= margin <= 1 or not 0 < alpha < 1:
        raise BadInput(
            f"margin {margin:g} / alpha {alpha:g} out of range",
            hint="margin from 0 to 1 (scores' range), alpha between 0 and 1",
        )
    fresh = replace(options or RunOptions(), refresh=True, resume=False)
    runs = [
        _run_one(suite, file, fresh, root, on_progress)
        for suite, file in _checked(pair_baselines(suites, baselines), root)
    ]
    flat = [(drift, comparison) for drift, comparisons in runs for comparison in comparisons]
    adjusted = holm_family([comparison for _, comparison in flat])  # one family: every suite
    metrics = [
        MetricDrift(drift.suite, c.b, c.a, m, _drifted(m, margin, alpha, regressions_only))
        for (drift, _), c in zip(flat, adjusted, strict=True)
        for m in c.metrics
    ]
    return DriftReport([d for d, _ in runs], metrics, margin, alpha, regressions_only)


def _checked(pairs: list[tuple[Suite, Path]], root: str | Path) -> list[tuple[Suite, Path]]:
    """Refuse, before anything is asked, a baseline that is missing or matches no variant."""
    for suite, file in pairs:
        if not file.is_file():
            raise BadInput(
                f"no baseline file for suite {suite.name}",
                path=file,
                hint="write one with 'promptkit eval SUITE --save-baseline FILE'",
            )
        link = prepare_pr(suite, baseline_run=file, root=root).link
        if link is None or all(p.base is None for p in link.pairs):
            raise BadInput(
                f"the baseline file has no variant of suite {suite.name} "
                "(same prompt family and model)",
                path=file,
                hint="is it this suite's baseline? write a new one with --save-baseline",
            )
    return pairs


def _run_one(
    suite: Suite,
    file: Path,
    options: RunOptions,
    root: str | Path,
    on_progress: ProgressCallback | None,
) -> tuple[SuiteDrift, list[Comparison]]:
    pr = prepare_pr(suite, baseline_run=file, root=root)
    result = run_suite(pr.suite, options, root=root, on_progress=on_progress)
    outcome = pr.conclude(result.path).outcome
    assert outcome is not None  # a baseline link always leads to an outcome
    notes = tuple(
        f"{p.pair.head}: {p.pair.note}"
        for p in outcome.pairs
        if p.pair.base is None or p.pair.note != "same template"
    )
    drift = SuiteDrift(
        suite.name, file, result, read_reported(file), reported_by_model(outcome.frame), notes
    )
    return drift, [p.comparison for p in outcome.pairs if p.comparison is not None]


def _drifted(result: MetricComparison, margin: float, alpha: float, drops_only: bool) -> bool:
    moved = result.difference.mean
    if result.difference.n == 0 or moved != moved:
        return False
    beyond = moved < -margin if drops_only else abs(moved) > margin
    return beyond and result.p_holm < alpha
