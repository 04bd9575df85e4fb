"""The pull-request pipeline, before and after the run: baseline, gate rules, verdict.

    prepare_pr(suite, baseline=..., gate=...)    the suite plus its baseline variants,
         │                                        the gate rules (the suite's, then the
         ▼                                        caller's on top), the baseline link
    run_suite(pr.suite)                           (the runner, unchanged)
         │
         ▼
    pr.conclude(result)                           the link saved beside the journal, the
                                                  comparison and the gate's verdict

:func:`promptkit.evaluate_pr` strings the three together and writes the CI files
(JUnit, Markdown, a baseline file); ``promptkit eval`` calls it, and so can a Python
user. Errors name the option (``baseline``, ``gate``), leaving flag spelling to the CLI.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptkit.ci.baseline import (
    BaselineLink,
    RunOutcome,
    load_outcome,
    run_baseline,
    with_git_baseline,
)
from promptkit.ci.gate import (
    GateResult,
    GateSpec,
    gate_spec,
    judge,
    save_gate_result,
    save_gate_rules,
    suite_gate,
)
from promptkit.errors import BadInput
from promptkit.paths import DEFAULT_ROOT, runs_root
from promptkit.suite import Suite, select_suite

__all__ = ["GateRules", "PullRequest", "Verdict", "conclude_run", "prepare_pr"]

#: Gate rules in the shape of a suite's ``gate:`` key, e.g. ``{"min": {"label_accuracy": 0.8},
#: "max_regression": 0.02}``; ``True`` judges the suite's own rules and requires some.
GateRules = Mapping[str, Any] | bool


@dataclass(frozen=True)
class Verdict:
    """What the pipeline concluded about one run."""

    outcome: RunOutcome | None  # None for a plain run: nothing to compare or judge
    gate: GateResult | None  # None when there are no gate rules

    @property
    def passed(self) -> bool:
        """True unless a gate rule failed."""
        return self.gate is None or self.gate.passed

    def raise_for_failure(self) -> None:
        """Raise :class:`~promptkit.errors.GateFailed` (exit code 1) when a rule failed."""
        if self.gate is not None:
            self.gate.raise_for_failure()


@dataclass(frozen=True)
class PullRequest:
    """A suite ready to run for a pull request: its baseline variants and gate rules."""

    suite: Suite  # with the baseline's prompt versions added (``baseline=REF``)
    link: BaselineLink | None
    spec: GateSpec
    root: Path

    def conclude(self, run_folder: Path, *, reread: bool = False, shard: bool = False) -> Verdict:
        """Save the baseline link beside the journal, compare, and judge the gate.

        The journal is read back only when something needs it (a baseline, gate rules,
        or ``reread`` because a report is wanted); a plain run skips that work. A
        ``shard``'s gate rules are saved, not judged: ``promptkit merge`` judges them
        on every shard's rows.
        """
        if self.link is not None:
            self.link.save(run_folder)
        if shard and self.spec:
            save_gate_rules(run_folder, self.spec)
        spec = GateSpec() if shard else self.spec
        return conclude_run(run_folder, spec, self.root, reread=reread or self.link is not None)


def conclude_run(run_folder: Path, spec: GateSpec, root: Path, *, reread: bool) -> Verdict:
    """Compare the run with its baseline (its saved link) and judge ``spec`` on it."""
    if not spec and not reread:
        return Verdict(None, None)
    outcome = load_outcome(run_folder, root=root)
    if not spec:
        return Verdict(outcome, None)
    verdict = judge(spec, outcome)
    save_gate_result(run_folder, spec, verdict)
    return Verdict(outcome, verdict)


def prepare_pr(
    suite: str | Path | Suite,
    *,
    models: Sequence[str] = (),
    prompts: Sequence[str] = (),
    baseline: str | None = None,
    baseline_run: str | Path | None = None,
    gate: GateRules = False,
    root: str | Path = DEFAULT_ROOT,
) -> PullRequest:
    """Load the suite, select models/prompts, add the baseline, read the gate rules.

    ``baseline`` is a git ref whose prompt versions run beside the working tree's;
    ``baseline_run`` a stored run (id or folder) or a committed baseline file.
    """
    if baseline and baseline_run:
        raise BadInput("baseline and baseline_run exclude each other", hint="give one")
    loaded = select_suite(suite, models, prompts)
    root = runs_root(root, suite=loaded.path)  # where the run (and a baseline run) is
    spec = _gate_spec(loaded, gate)
    link = None
    if baseline:
        loaded, link = with_git_baseline(loaded, baseline)
    elif baseline_run:
        link = run_baseline(loaded, baseline_run, root=root)
    return PullRequest(loaded, link, spec, root)


def _gate_spec(suite: Suite, gate: GateRules) -> GateSpec:
    """The suite's ``gate:`` rules, with the caller's on top; ``gate`` set means: need some."""
    spec = suite_gate(suite)
    if isinstance(gate, Mapping):
        metrics = [s.metric for s in suite.scorers]
        spec = spec.merged(gate_spec(gate, metrics, path="the gate option"))
    if gate is not False and not spec:
        raise BadInput(
            "the gate has no rules to judge",
            path=suite.path,
            hint="add 'gate: {min: {metric: value}, max_regression: 0.02}' to the suite, "
            "or give rules",
        )
    return spec
