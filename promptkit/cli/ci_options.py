"""The CI side of ``promptkit eval``: baselines, the gate and the reports for a pull request.

``eval_cmd`` stays small: it adds these options with :func:`ci_options`, loads
the suite through :meth:`CiRun.prepare` (which adds the baseline variants),
runs it as usual, then calls :meth:`CiRun.report` and :meth:`CiRun.enforce`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from promptkit.errors import BadInput

if TYPE_CHECKING:
    from rich.console import Console

    from promptkit.ci.baseline import BaselineLink
    from promptkit.ci.gate import GateResult, GateSpec
    from promptkit.run.runner import RunResult
    from promptkit.suite import Suite

__all__ = ["CI_FLAGS", "CiRun", "ci_options", "split_ci_flags"]

F = TypeVar("F", bound=Callable[..., Any])

_OPTIONS = [
    click.option(
        "--baseline",
        metavar="REF",
        help="Also run the prompts as they are at git REF (e.g. main) and compare on the "
        "same rows; unchanged templates are not run twice.",
    ),
    click.option(
        "--baseline-run",
        metavar="RUN",
        help="Compare with a stored run (id or folder) or a committed baseline file (.json).",
    ),
    click.option(
        "--save-baseline",
        type=click.Path(dir_okay=False),
        metavar="FILE",
        help="Write this run's per-row scores as a baseline file to commit.",
    ),
    click.option("--gate", is_flag=True, help="Exit 1 when a gate rule fails."),
    click.option(
        "--min",
        "min_rules",
        multiple=True,
        metavar="METRIC=VALUE",
        help="Gate rule: each variant's mean of METRIC must reach VALUE (repeatable; "
        "implies --gate).",
    ),
    click.option(
        "--max-regression",
        "regression_rules",
        multiple=True,
        metavar="[METRIC=]MARGIN",
        help="Gate rule: the paired 95% interval of head - base must stay above -MARGIN "
        "(all metrics, or one; repeatable; implies --gate).",
    ),
    click.option(
        "--junit",
        type=click.Path(dir_okay=False),
        metavar="FILE",
        help="Write JUnit XML: one testcase per row and variant.",
    ),
    click.option(
        "--markdown",
        type=click.Path(dir_okay=False),
        metavar="FILE",
        help="Write a Markdown summary for a pull request (also appended to "
        "$GITHUB_STEP_SUMMARY when set).",
    ),
]


#: The keyword names click gives the options above.
CI_FLAGS = (
    "baseline",
    "baseline_run",
    "save_baseline",
    "gate",
    "min_rules",
    "regression_rules",
    "junit",
    "markdown",
)


def split_ci_flags(flags: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the CI options, everything else) from a command's keyword arguments."""
    ci = {k: v for k, v in flags.items() if k in CI_FLAGS}
    return ci, {k: v for k, v in flags.items() if k not in CI_FLAGS}


def ci_options(command: F) -> F:
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


class CiRun:
    """One ``eval`` with its baseline and gate settings."""

    def __init__(
        self, suite: Suite, link: BaselineLink | None, spec: GateSpec, flags: dict[str, Any]
    ) -> None:
        self.suite, self.link, self.spec, self.flags = suite, link, spec, flags
        self.enforcing = bool(flags.get("gate") or flags.get("min_rules"))
        self.enforcing |= bool(flags.get("regression_rules"))
        self.result: GateResult | None = None

    @classmethod
    def prepare(
        cls, suite_path: str, *, models: Sequence[str], prompts: Sequence[str], **flags: Any
    ) -> CiRun:
        """Load the suite, apply --model/--prompt, read the gate rules, add the baseline."""
        from promptkit.ci.baseline import run_baseline, with_git_baseline
        from promptkit.ci.gate import gate_spec, suite_gate
        from promptkit.suite import load_suite

        suite = load_suite(suite_path)
        suite = suite.with_models(models) if models else suite
        suite = suite.with_prompts(prompts) if prompts else suite
        metrics = [s.metric for s in suite.scorers]
        rules = _flag_rules(flags.get("min_rules", ()), flags.get("regression_rules", ()))
        spec = suite_gate(suite).merged(gate_spec(rules, metrics, path="command line"))
        if flags.get("baseline") and flags.get("baseline_run"):
            raise BadInput("--baseline and --baseline-run exclude each other", hint="pick one")
        link = None
        if flags.get("baseline"):
            suite, link = with_git_baseline(suite, flags["baseline"])
        elif flags.get("baseline_run"):
            link = run_baseline(suite, flags["baseline_run"])
        run = cls(suite, link, spec, flags)
        if run.enforcing and not spec:
            raise BadInput(
                "--gate has no rules to judge",
                path=suite_path,
                hint="add 'gate: {min: {metric: value}, max_regression: 0.02}' to the suite, "
                "or pass --min/--max-regression",
            )
        return run

    def report(self, result: RunResult, console: Console) -> None:
        """Compare with the baseline, judge the gate, print both, write the CI files."""
        from promptkit.ci.baseline import load_outcome, save_baseline_file
        from promptkit.ci.gate import judge, save_gate_result
        from promptkit.report.gate_terminal import baseline_table, gate_table
        from promptkit.report.junit import write_junit
        from promptkit.report.markdown import render_markdown

        if self.link is not None:
            self.link.save(result.path)
        if not self._wanted():
            return  # a plain eval: its table is printed already; don't reread the journal
        outcome = load_outcome(result.path)
        if self.spec:
            self.result = judge(self.spec, outcome)
            save_gate_result(result.path, self.spec, self.result)
        table = baseline_table(outcome)
        if table is not None:
            console.print(table)
        if self.result is not None:
            console.print(gate_table(self.result))
        if self.flags.get("junit"):
            write_junit(outcome, self.flags["junit"], self.result)
        markdown = render_markdown(outcome, self.result)
        if self.flags.get("markdown"):
            _write(Path(self.flags["markdown"]), markdown)
        if os.environ.get("GITHUB_STEP_SUMMARY"):
            with open(os.environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as summary:
                summary.write(markdown + "\n")
        if self.flags.get("save_baseline"):
            save_baseline_file(result.path, self.flags["save_baseline"])

    def _wanted(self) -> bool:
        """Whether anything here applies: a baseline, gate rules, or a CI file to write."""
        files = ("junit", "markdown", "save_baseline")
        return bool(
            self.link is not None
            or self.spec
            or any(self.flags.get(name) for name in files)
            or os.environ.get("GITHUB_STEP_SUMMARY")
        )

    def enforce(self) -> None:
        """With --gate (or a rule flag): raise GateFailed (exit 1) when a rule failed."""
        if self.enforcing and self.result is not None:
            self.result.raise_for_failure()


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, "utf-8")


def _flag_rules(minimums: Sequence[str], regressions: Sequence[str]) -> dict[str, Any]:
    """``--min acc=0.8`` and ``--max-regression 0.02`` as a gate mapping."""
    rules: dict[str, Any] = {"min": {}, "max_regression": {}}
    for text in minimums:
        metric, value = _pair(text, "--min", "METRIC=VALUE")
        rules["min"][metric] = value
    for text in regressions:
        if "=" in text:
            metric, value = _pair(text, "--max-regression", "[METRIC=]MARGIN")
            rules["max_regression"][metric] = value
        else:
            rules["max_regression"]["*"] = _number(text, "--max-regression")
    return rules


def _pair(text: str, flag: str, form: str) -> tuple[str, float]:
    metric, _, value = text.partition("=")
    if not metric.strip():
        raise click.BadParameter(f"{text!r} is not {form}", param_hint=flag)
    return metric.strip(), _number(value, flag)


def _number(text: str, flag: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a number", param_hint=flag) from None
