"""promptkit: versioned prompt templates, evaluated with honest statistics on any model.

Public names are loaded on first use (PEP 562), so ``import promptkit`` and
``promptkit --help`` stay fast and never import litellm, llama_cpp or torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from promptkit.advise import Advice, advise_run
    from promptkit.api import estimate, evaluate, render_prompt
    from promptkit.baseline import (
        RunOutcome,
        load_outcome,
        run_baseline,
        save_baseline_file,
        with_git_baseline,
    )
    from promptkit.check import CheckReport, check_project
    from promptkit.compare import Comparison, compare_variants
    from promptkit.datasets import Dataset, Row, load_dataset
    from promptkit.errors import (
        BadInput,
        DatasetError,
        GateFailed,
        PromptError,
        PromptkitError,
        ProviderConfigError,
        ProviderError,
        SuiteError,
    )
    from promptkit.estimate import DryRun
    from promptkit.export import FinetuneReport, check_finetune, export_finetune
    from promptkit.gate import GateResult, GateSpec, gate_spec, judge, suite_gate
    from promptkit.history import RunRecord, list_runs
    from promptkit.parsers import Parsed, make_parser
    from promptkit.prompts import Message, Prompt, PromptLibrary
    from promptkit.providers import (
        Completion,
        MockProvider,
        Provider,
        Request,
        get_provider,
        register_mock,
        register_provider,
    )
    from promptkit.report.html import html_report, write_html_report
    from promptkit.report.junit import write_junit
    from promptkit.report.markdown import render_markdown
    from promptkit.runner import RunOptions, RunResult, run_suite, run_suite_async
    from promptkit.scorers import Case, Score, ScorerSetup, scorer, scorer_factory
    from promptkit.stats import Estimate, mean_interval, paired_difference
    from promptkit.store import load_run
    from promptkit.suite import Suite, Variant, load_suite
    from promptkit.summary import (
        VariantSummary,
        classification_report,
        shots_sweep,
        summarize,
    )

_EXPORTS = {
    "Advice": "promptkit.advise",
    "advise_run": "promptkit.advise",
    "estimate": "promptkit.api",
    "evaluate": "promptkit.api",
    "render_prompt": "promptkit.api",
    "RunOutcome": "promptkit.baseline",
    "load_outcome": "promptkit.baseline",
    "run_baseline": "promptkit.baseline",
    "save_baseline_file": "promptkit.baseline",
    "with_git_baseline": "promptkit.baseline",
    "CheckReport": "promptkit.check",
    "check_project": "promptkit.check",
    "Comparison": "promptkit.compare",
    "compare_variants": "promptkit.compare",
    "Dataset": "promptkit.datasets",
    "Row": "promptkit.datasets",
    "load_dataset": "promptkit.datasets",
    "BadInput": "promptkit.errors",
    "DatasetError": "promptkit.errors",
    "GateFailed": "promptkit.errors",
    "PromptError": "promptkit.errors",
    "PromptkitError": "promptkit.errors",
    "ProviderConfigError": "promptkit.errors",
    "ProviderError": "promptkit.errors",
    "SuiteError": "promptkit.errors",
    "GateResult": "promptkit.gate",
    "GateSpec": "promptkit.gate",
    "gate_spec": "promptkit.gate",
    "judge": "promptkit.gate",
    "suite_gate": "promptkit.gate",
    "RunRecord": "promptkit.history",
    "list_runs": "promptkit.history",
    "FinetuneReport": "promptkit.export",
    "check_finetune": "promptkit.export",
    "export_finetune": "promptkit.export",
    "Parsed": "promptkit.parsers",
    "make_parser": "promptkit.parsers",
    "Message": "promptkit.prompts",
    "Prompt": "promptkit.prompts",
    "PromptLibrary": "promptkit.prompts",
    "html_report": "promptkit.report.html",
    "write_html_report": "promptkit.report.html",
    "Completion": "promptkit.providers",
    "MockProvider": "promptkit.providers",
    "Provider": "promptkit.providers",
    "Request": "promptkit.providers",
    "get_provider": "promptkit.providers",
    "register_mock": "promptkit.providers",
    "register_provider": "promptkit.providers",
    "write_junit": "promptkit.report.junit",
    "render_markdown": "promptkit.report.markdown",
    "DryRun": "promptkit.estimate",
    "RunOptions": "promptkit.runner",
    "RunResult": "promptkit.runner",
    "run_suite": "promptkit.runner",
    "run_suite_async": "promptkit.runner",
    "Case": "promptkit.scorers",
    "Score": "promptkit.scorers",
    "ScorerSetup": "promptkit.scorers",
    "scorer": "promptkit.scorers",
    "scorer_factory": "promptkit.scorers",
    "Estimate": "promptkit.stats",
    "mean_interval": "promptkit.stats",
    "paired_difference": "promptkit.stats",
    "load_run": "promptkit.store",
    "Suite": "promptkit.suite",
    "Variant": "promptkit.suite",
    "load_suite": "promptkit.suite",
    "VariantSummary": "promptkit.summary",
    "classification_report": "promptkit.summary",
    "shots_sweep": "promptkit.summary",
    "summarize": "promptkit.summary",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'promptkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
