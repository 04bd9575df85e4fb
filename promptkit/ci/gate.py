"""The gate: rules on a run's figures -> pass or fail, with the figures that decided.

Rules are data, in the suite or on the command line::

    gate:
      min: {label_accuracy: 0.8}     # each variant's mean must reach this
      max_regression: 0.02           # every metric (or {metric: margin}): non-inferiority

``min`` is judged on each variant's mean. ``max_regression`` is judged on the
*paired* 95% interval of ``head - base`` over the rows both scored: the rule
fails when the interval's lower bound is below ``-margin``, so a prompt must
show it is not worse by more than the margin, not merely look no worse. With
few rows that interval is wide; choose the margin (or the dataset size) so.

A judge's own trustworthiness is gated where the judge is defined, on its scorer::

    scorers:
      - llm_judge: {rubric: ..., samples: 3, human: verdict, min_kappa: 0.6, min_agreement: 0.8}

``min_kappa`` fails a variant whose judge's Cohen's kappa against the human verdicts
is below the threshold (or cannot be measured); ``min_agreement`` one whose judge
agrees with itself across samples less often than that. A gate that relies on a
judge should not pass on the word of a judge nobody can trust.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml

from promptkit.ci.baseline import RunOutcome
from promptkit.errors import GateFailed, SuiteError

if TYPE_CHECKING:
    from promptkit.results.stats import PairedDifference
    from promptkit.suite import Suite

__all__ = [
    "GATE_KEYS",
    "GateResult",
    "GateSpec",
    "RuleResult",
    "gate_spec",
    "judge",
    "judge_rules",
    "load_gate_result",
    "rule_names",
    "save_gate_result",
    "suite_gate",
]

GATE_FILE = "gate.json"
#: A shard's gate rules, left for ``promptkit merge`` to judge on all the shards' rows.
GATE_RULES_FILE = "gate_rules.json"

GATE_KEYS = {
    "min": "{metric: value}: each variant's mean must be at least value",
    "max_regression": "a margin for every metric, or {metric: margin}: the lower bound of the "
    "paired 95% interval of head - base must stay above -margin",
}

#: Gate thresholds an LLM judge scorer takes among its own arguments.
JUDGE_RULES = {
    "min_kappa": "Cohen's kappa of the judge against the human verdicts (needs human: COLUMN)",
    "min_agreement": "the judge's mean agreement between its samples (needs samples >= 2)",
}


@dataclass(frozen=True)
class GateSpec:
    min: Mapping[str, float] = field(default_factory=dict)
    max_regression: Mapping[str, float] = field(default_factory=dict)
    #: judge metric -> {"min_kappa": 0.6, "min_agreement": 0.8}, from the judges' scorers
    judges: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.min or self.max_regression or self.judges)

    def merged(self, other: GateSpec) -> GateSpec:
        """These rules with ``other``'s on top (command-line flags over the suite)."""
        return GateSpec(
            min={**self.min, **other.min},
            max_regression={**self.max_regression, **other.max_regression},
            judges={**self.judges, **other.judges},
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GateSpec:
        return cls(
            min=dict(data.get("min") or {}),
            max_regression=dict(data.get("max_regression") or {}),
            judges={m: dict(rules) for m, rules in (data.get("judges") or {}).items()},
        )

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"min": dict(self.min), "max_regression": dict(self.max_regression)}
        if self.judges:
            data["judges"] = {m: dict(rules) for m, rules in self.judges.items()}
        return data


def gate_spec(
    data: Any,
    metrics: Sequence[str],
    *,
    path: str | Path | None = None,
    lines: Mapping[str, int] | None = None,
) -> GateSpec:
    """Validate a ``gate:`` mapping (or flags parsed to one) against the suite's metrics.

    ``lines`` maps ``""`` (the gate key) and each gate key to its line in the file.
    """
    if data is None:
        return GateSpec()
    where = dict(lines or {})

    def error(message: str, hint: str, key: str = "") -> SuiteError:
        return SuiteError(message, path=path, line=where.get(key, where.get("")), hint=hint)

    if not isinstance(data, Mapping):
        raise error("'gate' must be a mapping", "gate: {min: {metric: 0.8}, max_regression: 0.02}")
    for key in data:
        if key not in GATE_KEYS:
            known = f"known keys: {', '.join(GATE_KEYS)}"
            raise error(f"unknown gate key {key!r}", known, str(key))
    minimum = _per_metric(data.get("min"), metrics, "min", error)
    margin = data.get("max_regression")
    if _is_number(margin):
        margin = {"*": margin}
    if isinstance(margin, Mapping) and "*" in margin:  # one margin for every metric
        named = {k: v for k, v in margin.items() if k != "*"}
        margin = {**dict.fromkeys(metrics, margin["*"]), **named}
    regression = _per_metric(margin, metrics, "max_regression", error)
    return GateSpec(min=minimum, max_regression=regression)


def suite_gate(suite: Suite) -> GateSpec:
    """The ``gate:`` rules of a loaded suite, validated against its metrics, and the
    thresholds its judge scorers set on themselves (``min_kappa``, ``min_agreement``)."""
    judges = judge_rules(suite)
    if "gate" not in suite.raw:
        return GateSpec(judges=judges)
    metrics = [s.metric for s in suite.scorers]
    lines = _gate_lines(Path(suite.path))
    spec = gate_spec(suite.raw["gate"], metrics, path=suite.path, lines=lines)
    return GateSpec(min=spec.min, max_regression=spec.max_regression, judges=judges)


def judge_rules(suite: Suite) -> dict[str, dict[str, float]]:
    """Judge metric -> its thresholds, for every scorer that set one (the scorer checked
    the numbers when the suite loaded)."""
    rules: dict[str, dict[str, float]] = {}
    for bound in suite.scorers:
        found = {k: float(bound.args[k]) for k in JUDGE_RULES if bound.args.get(k) is not None}
        if found:
            rules[bound.metric] = found
    return rules


def _gate_lines(path: Path) -> dict[str, int]:
    """Line numbers of the ``gate`` key ("") and of each key inside it."""
    try:
        node = yaml.compose(path.read_text("utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    if not isinstance(node, yaml.MappingNode):
        return {}
    for key, value in node.value:
        if key.value == "gate":
            lines = {"": key.start_mark.line + 1}
            if isinstance(value, yaml.MappingNode):
                lines |= {str(k.value): k.start_mark.line + 1 for k, _ in value.value}
            return lines
    return {}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _per_metric(value: Any, metrics: Sequence[str], key: str, error: Any) -> dict[str, float]:
    """``{metric: number}`` with known metrics and numbers from 0 to 1 (scores' range)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise error(f"gate {key!r} must map metrics to numbers", f"{key}: {GATE_KEYS[key]}", key)
    rules = {}
    for metric, number in value.items():
        if metric not in metrics:
            known = ", ".join(metrics) or "none"
            raise error(f"gate {key!r} names unknown metric {metric!r}", f"metrics: {known}", key)
        if not _is_number(number) or not 0 <= number <= 1:
            raise error(f"gate {key}.{metric} must be a number from 0 to 1", GATE_KEYS[key], key)
        rules[str(metric)] = float(number)
    return rules


Status = Literal["pass", "fail", "skip"]


@dataclass(frozen=True)
class RuleResult:
    rule: str  # e.g. "min label_accuracy 0.8"
    variant: str
    status: Status
    figures: str  # the numbers that decided, in words

    def __str__(self) -> str:
        return f"{self.status.upper()} {self.rule}: {self.variant}: {self.figures}"


@dataclass(frozen=True)
class GateResult:
    rules: list[RuleResult]

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def failures(self) -> list[RuleResult]:
        return [r for r in self.rules if r.status == "fail"]

    def raise_for_failure(self) -> None:
        """Raise :class:`GateFailed` (exit code 1) naming the first failed rule."""
        failures = self.failures
        if not failures:
            return
        first = failures[0]
        more = f" (and {_rules(len(failures) - 1)} more)" if len(failures) > 1 else ""
        raise GateFailed(f"gate failed: {first.rule}: {first.variant}: {first.figures}{more}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GateResult:
        return cls([RuleResult(**rule) for rule in data.get("rules", [])])

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "rules": [
                {"rule": r.rule, "variant": r.variant, "status": r.status, "figures": r.figures}
                for r in self.rules
            ],
        }


def _rules(count: int) -> str:
    return f"{count} rule" if count == 1 else f"{count} rules"


def save_gate_result(folder: Path, spec: GateSpec, result: GateResult) -> None:
    """Record the rules and the verdict in the run folder, for ``promptkit show``."""
    data = {"spec": spec.to_dict(), **result.to_dict()}
    (folder / GATE_FILE).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", "utf-8")


def save_gate_rules(folder: Path, spec: GateSpec) -> None:
    """A shard's rules, judged later on the merged run (a shard's rows alone prove little)."""
    text = json.dumps(spec.to_dict(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    (folder / GATE_RULES_FILE).write_text(text, "utf-8")


def load_gate_rules(folder: Path) -> GateSpec | None:
    path = folder / GATE_RULES_FILE
    if not path.is_file():
        return None
    return GateSpec.from_dict(json.loads(path.read_text("utf-8")))


def load_gate_result(folder: Path) -> GateResult | None:
    path = folder / GATE_FILE
    if not path.is_file():
        return None
    return GateResult.from_dict(json.loads(path.read_text("utf-8")))


def rule_names(spec: GateSpec) -> list[str]:
    """Each rule of ``spec`` as :attr:`RuleResult.rule` names it, in :func:`judge`'s order."""
    return (
        [_min_rule(m, t) for m, t in spec.min.items()]
        + [_regression_rule(m, margin) for m, margin in spec.max_regression.items()]
        + [_judge_rule(k, m, t) for m, rules in spec.judges.items() for k, t in rules.items()]
    )


def _judge_rule(kind: str, metric: str, threshold: float) -> str:
    return f"{kind} {metric} {threshold:g}"


def _min_rule(metric: str, threshold: float) -> str:
    return f"min {metric} {threshold:g}"


def _regression_rule(metric: str, margin: float) -> str:
    return f"max_regression {metric} {margin:g}"


def judge(spec: GateSpec, outcome: RunOutcome) -> GateResult:
    """Every rule of ``spec`` on every variant under test of ``outcome``."""
    rules = [
        _minimum(metric, threshold, summary)
        for metric, threshold in spec.min.items()
        for summary in outcome.head
    ]
    for metric, margin in spec.max_regression.items():
        rules += _regressions(metric, margin, outcome)
    rules += [
        _trusted(kind, metric, threshold, summary)
        for metric, thresholds in spec.judges.items()
        for kind, threshold in thresholds.items()
        for summary in outcome.head
    ]
    return GateResult(rules)


def _trusted(kind: str, metric: str, threshold: float, summary: Any) -> RuleResult:
    """A judge's kappa against humans, or its agreement across samples, at the threshold."""
    rule = _judge_rule(kind, metric, threshold)
    judge = summary.judges.get(metric)
    measured, figures = _judge_figure(kind, metric, judge)
    if measured is None:
        return RuleResult(rule, summary.variant, "fail", f"{figures}: the gate cannot trust it")
    ok = measured >= threshold
    verdict = f"(>= {threshold:g})" if ok else f"(< {threshold:g}: the gate does not trust it)"
    return RuleResult(rule, summary.variant, "pass" if ok else "fail", f"{figures} {verdict}")


def _judge_figure(kind: str, metric: str, judge: Any) -> tuple[float | None, str]:
    """The measured figure of a judge rule (None: not measured) and its words."""
    if judge is None:
        return None, f"{metric} has no judged rows"
    if kind == "min_agreement":
        if judge.agreement is None:
            return None, f"{metric} gave no readable verdicts to agree on"
        return judge.agreement, (
            f"{metric} agreement {judge.agreement:.3f} between {judge.samples} samples per case"
        )
    calibration = judge.calibration
    if calibration is None or not calibration.kappa.n:
        rows = 0 if calibration is None else calibration.rows
        why = (
            "kappa undefined: judge and humans each gave one verdict only"
            if rows
            else ("no rows with a human verdict")
        )
        return None, f"{metric} {why} ({rows} labelled rows)"
    return calibration.kappa.mean, (
        f"{metric} kappa {calibration.kappa} against the humans' {calibration.column!r} "
        f"on {calibration.rows} rows"
    )


def _minimum(metric: str, threshold: float, summary: Any) -> RuleResult:
    rule = _min_rule(metric, threshold)
    estimate = summary.scores.get(metric)
    if estimate is None or estimate.n == 0:
        return RuleResult(rule, summary.variant, "fail", f"{metric} has no scored rows")
    ok = estimate.mean >= threshold
    sign = ">=" if ok else "<"
    return RuleResult(
        rule,
        summary.variant,
        "pass" if ok else "fail",
        f"{metric} {estimate} (mean {sign} {threshold:g})",
    )


def _regressions(metric: str, margin: float, outcome: RunOutcome) -> list[RuleResult]:
    rule = _regression_rule(metric, margin)
    if outcome.link is None:
        return [
            RuleResult(rule, s.variant, "skip", "no baseline (pass --baseline or --baseline-run)")
            for s in outcome.head
        ]
    results = []
    for result in outcome.pairs:
        pair = result.pair
        if pair.base is None:
            results.append(RuleResult(rule, pair.head, "skip", pair.note))
            continue
        if result.comparison is None:
            results.append(RuleResult(rule, pair.head, "pass", f"{pair.note}: same rows"))
            continue
        found = next((m for m in result.comparison.metrics if m.metric == metric), None)
        diff = found.difference if found else None
        if found is None or diff is None or diff.n == 0:
            figures = f"no rows scored by both this variant and {pair.base}"
            results.append(RuleResult(rule, pair.head, "fail", figures))
            continue
        ok = diff.low >= -margin
        figures = (
            f"{metric} {found.b_mean:.3f} vs {found.a_mean:.3f} for {pair.base}: difference "
            f"{diff.interval_text()} on {diff.n} rows, lower bound "
            f"{'>=' if ok else '<'} -{margin:g}" + _power_note(diff, found.a_mean, margin, ok)
        )
        results.append(RuleResult(rule, pair.head, "pass" if ok else "fail", figures))
    return results


def _power_note(diff: PairedDifference, base_rate: float, margin: float, ok: bool) -> str:
    """What margin these rows resolve (see :mod:`promptkit.results.margin`), and, when the
    rule failed on a margin finer than that, a warning with the rows that would resolve it."""
    from promptkit.results.margin import margin_plan
    from promptkit.results.power import NO_SPREAD

    pass_fail = not math.isnan(diff.discordance)
    kind, spread = ("pass/fail", diff.discordance) if pass_fail else ("graded", diff.sd)
    if math.isnan(spread) or (not pass_fail and spread <= NO_SPREAD):
        return "; these rows differ by the same amount on every row: no spread to plan from"
    plan = margin_plan(diff.n, spread, base_rate, margin, kind)
    resolved = "no margin below 1" if plan.resolved >= 1 else f"a margin of >= {plan.resolved:.2f}"
    note = (
        f"; with {diff.n} rows this gate resolves {resolved} with {plan.power:.0%} power "
        f"(a change that did not regress passes it {plan.pass_chance:.0%} of the time)"
    )
    if ok or margin >= plan.resolved:
        return note
    needed = plan.rows_for(margin, spread, base_rate, kind)
    more = f"; about {needed:,} rows would" if needed else ""
    return (
        f"{note} (warning: the margin {margin:g} is finer than these rows resolve: they cannot "
        f"tell a regression of {margin:g} from noise{more})"
    )
