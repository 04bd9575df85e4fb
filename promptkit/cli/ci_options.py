"""The CI options of ``promptkit eval``: baselines, the gate and the reports for a pull request.

``eval_cmd`` adds them with :func:`ci_options` and turns them into the keyword
arguments of :func:`promptkit.evaluate_pr` with :meth:`CiFlags.pr_options`; the
pipeline itself lives in the library (``promptkit.ci.pipeline``, ``promptkit.api``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from promptkit.errors import BadInput

__all__ = ["CI_FLAGS", "CiFlags", "ci_options"]

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


def ci_options(command: F) -> F:
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


@dataclass(frozen=True)
class CiFlags:
    """The CI options of one ``eval``, as :func:`promptkit.evaluate_pr` takes them."""

    baseline: str | None = None
    baseline_run: str | None = None
    save_baseline: str | None = None
    gate: bool = False
    min_rules: tuple[str, ...] = ()
    regression_rules: tuple[str, ...] = ()
    junit: str | None = None
    markdown: str | None = None

    @classmethod
    def split(cls, flags: dict[str, Any]) -> tuple[CiFlags, dict[str, Any]]:
        """(the CI options, everything else) from a command's keyword arguments."""
        ci = cls(**{k: v for k, v in flags.items() if k in CI_FLAGS})
        return ci, {k: v for k, v in flags.items() if k not in CI_FLAGS}

    @property
    def enforcing(self) -> bool:
        """Whether a failed rule exits 1: --gate, or any rule given as a flag."""
        return self.gate or bool(self.min_rules or self.regression_rules)

    def pr_options(self) -> dict[str, Any]:
        """Keyword arguments for :func:`promptkit.evaluate_pr` (flag spelling stays here)."""
        if self.baseline and self.baseline_run:
            raise BadInput("--baseline and --baseline-run exclude each other", hint="pick one")
        rules = _flag_rules(self.min_rules, self.regression_rules)
        return {
            "baseline": self.baseline,
            "baseline_run": self.baseline_run,
            "gate": rules if self.min_rules or self.regression_rules else self.gate,
            "junit": self.junit,
            "markdown": self.markdown,
            "step_summary": os.environ.get("GITHUB_STEP_SUMMARY") or None,
            "save_baseline": self.save_baseline,
        }


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
