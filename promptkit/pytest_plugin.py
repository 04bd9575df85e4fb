"""pytest runs eval suites: ``pytest evals/`` makes each gate rule of each suite a test.

On by default (the ``pytest11`` entry point ``promptkit.pytest_plugin``) because a
team adopting promptkit already runs pytest, and an opt-in flag is one more thing
to find. It stays out of other projects' way:

- Importing this module imports pytest and the standard library only; promptkit is
  imported inside the hooks, and only once a suite file is found.
- A file is a suite only when it is ``*.yaml``/``*.yml`` directly inside a folder
  named ``evals`` and its top level has a ``dataset:`` key (a file that does not
  parse is collected too, so that its error is shown rather than skipped).
- Suites are collected only when asked for: a path on the command line
  (``pytest evals/``) or in ``testpaths``. A bare ``pytest`` that recurses from the
  working directory never starts model calls by surprise.

Each suite file yields one item per gate rule (``evals/x.yaml::min accuracy 0.8``),
so a failed rule is a failed test whose text holds the figures of every variant, and
``-k``, ``-x``, ``--lf`` and ``--junitxml`` work as for any test. A suite without
gate rules yields one item, ``run``, which fails on provider errors. The suite runs
once per session, on the first of its items, through :func:`promptkit.evaluate_pr`:
paths, ``.promptkit/runs`` and the response cache are the working directory's,
shared with ``promptkit eval``. Disable with ``-p no:promptkit.pytest_plugin``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from _pytest._code.code import TerminalRepr, TracebackStyle

    from promptkit.api import PrResult
    from promptkit.run.runner import RunResult

__all__ = ["RuleItem", "SuiteFile", "promptkit_run"]

SUFFIXES = (".yaml", ".yml")
RUN_ITEM = "run"  # the one item of a suite with no gate rules


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("promptkit", "promptkit eval suites")
    group.addoption(
        "--promptkit-model",
        action="append",
        default=[],
        metavar="MODEL",
        help="run suites on this model instead of theirs (repeatable), e.g. mock/echo",
    )
    group.addoption(
        "--promptkit-limit", type=int, default=None, metavar="N", help="score the first N rows"
    )
    group.addoption(
        "--promptkit-baseline",
        default=None,
        metavar="REF",
        help="git ref whose prompt versions max_regression rules compare against",
    )


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> SuiteFile | None:
    if file_path.suffix not in SUFFIXES or file_path.parent.name != "evals":
        return None
    if parent.config.args_source == pytest.Config.ArgsSource.INVOCATION_DIR:
        return None
    if not _looks_like_suite(file_path):
        return None
    return SuiteFile.from_parent(parent, path=file_path)


def _looks_like_suite(path: Path) -> bool:
    import yaml

    try:
        data = yaml.safe_load(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return True  # promptkit's reader will say what is wrong, with the line
    return isinstance(data, dict) and "dataset" in data


class PromptkitFailure(Exception):
    """A failed rule or a promptkit error: shown as its text, without a traceback."""


class SuiteFile(pytest.File):
    """One suite file; runs the suite once, for the first of its items that needs it."""

    _result: PrResult | None = None
    _error: PromptkitFailure | None = None

    def collect(self) -> Iterator[pytest.Item]:
        from promptkit.ci.gate import rule_names, suite_gate
        from promptkit.errors import PromptkitError
        from promptkit.suite import load_suite

        try:
            names = rule_names(suite_gate(load_suite(self.path)))
        except PromptkitError as exc:
            raise PromptkitFailure(str(exc)) from None
        for rule in names:
            yield RuleItem.from_parent(self, name=rule, rule=rule)
        if not names:
            yield RuleItem.from_parent(self, name=RUN_ITEM, rule=None)

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: TracebackStyle | None = None
    ) -> str | TerminalRepr:
        if isinstance(excinfo.value, PromptkitFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def outcome(self) -> PrResult:
        """The suite's run and verdict, computed on the first call."""
        if self._error is not None:
            raise self._error
        if self._result is None:
            try:
                self._result = _evaluate(self.config, self.path)
            except PromptkitFailure as exc:
                self._error = exc
                raise
        return self._result


def _evaluate(config: pytest.Config, path: Path) -> PrResult:
    from promptkit.api import evaluate_pr
    from promptkit.errors import PromptkitError
    from promptkit.run.caller import RunOptions

    try:
        return evaluate_pr(
            path,
            RunOptions(limit=config.getoption("promptkit_limit")),
            models=config.getoption("promptkit_model"),
            baseline=config.getoption("promptkit_baseline"),
        )
    except PromptkitError as exc:
        raise PromptkitFailure(str(exc)) from None


class RuleItem(pytest.Item):
    """One gate rule of a suite, judged on every variant (or the plain run: ``run``)."""

    parent: SuiteFile

    def __init__(self, *, rule: str | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rule = rule  # RuleResult.rule, e.g. "min label_accuracy 0.8"

    def runtest(self) -> None:
        result = self.parent.outcome()
        gate = result.verdict.gate
        if self.rule is None or gate is None:
            _check_errors(result.run)
            return
        verdicts = [rule for rule in gate.rules if rule.rule == self.rule]
        lines = "\n".join(str(rule) for rule in verdicts)
        if any(rule.status == "fail" for rule in verdicts):
            raise PromptkitFailure(lines + _errors_note(result.run))
        if verdicts and all(rule.status == "skip" for rule in verdicts):
            pytest.skip(lines)

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: TracebackStyle | None = None
    ) -> str | TerminalRepr:
        if isinstance(excinfo.value, PromptkitFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        # Not the bare name: pytest would show the rule's dots as "::" (0.8 -> 0::8).
        return self.path, None, f"{self.path.name}: {self.name}"


def _check_errors(run: RunResult) -> None:
    if run.errors:
        raise PromptkitFailure(f"run {run.run_id}: {_errors_note(run).strip()}")


def _errors_note(run: RunResult) -> str:
    if not run.errors:
        return ""
    causes = "; ".join(f"{message} ({cases})" for message, cases in run.error_counts[:3])
    return f"\n{run.errors} of {run.cases} cases failed: {causes}"


RunFactory = Callable[..., "RunResult"]


@pytest.fixture
def promptkit_run(pytestconfig: pytest.Config) -> RunFactory:
    """``promptkit_run("evals/x.yaml", limit=3)``: run a suite, return its RunResult.

    ``models`` and ``limit`` default to ``--promptkit-model``/``--promptkit-limit``;
    other keywords are :class:`~promptkit.run.caller.RunOptions` fields.
    """
    from promptkit.api import evaluate
    from promptkit.run.caller import RunOptions

    def run(
        suite: str | Path,
        *,
        models: Sequence[str] | None = None,
        limit: int | None = None,
        **options: Any,
    ) -> RunResult:
        chosen = pytestconfig.getoption("promptkit_model") if models is None else models
        if limit is None:
            limit = pytestconfig.getoption("promptkit_limit")
        return evaluate(suite, RunOptions(limit=limit, **options), models=chosen)

    return run
