"""promptkit: versioned prompt templates, evaluated with honest statistics on any model.

Public names are loaded on first use (PEP 562), so ``import promptkit`` and
``promptkit --help`` stay fast and never import litellm, llama_cpp or torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from promptkit.advise import Advice, advise_run
    from promptkit.api import (
        PrResult,
        estimate,
        evaluate,
        evaluate_pr,
        merge_runs,
        render_prompt,
    )
    from promptkit.ci.baseline import (
        RunOutcome,
        load_outcome,
        run_baseline,
        save_baseline_file,
        with_git_baseline,
    )
    from promptkit.ci.check import CheckReport, check_project
    from promptkit.ci.drift import DriftReport, check_drift
    from promptkit.ci.gate import GateResult, GateSpec, gate_spec, judge, suite_gate
    from promptkit.ci.pipeline import PullRequest, Verdict, prepare_pr
    from promptkit.define.datasets import Dataset, Row, load_dataset
    from promptkit.define.parsers import Parsed, make_parser
    from promptkit.define.prompts import Message, Prompt, PromptLibrary
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
    from promptkit.export import FinetuneReport, check_finetune, export_finetune
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
    from promptkit.results.compare import Comparison, compare_variants
    from promptkit.results.history import RunRecord, list_runs
    from promptkit.results.stats import Estimate, mean_interval, paired_difference
    from promptkit.results.store import load_run
    from promptkit.results.summary import VariantSummary, classification_report, summarize
    from promptkit.results.sweeps import shots_sweep
    from promptkit.run.estimate import DryRun
    from promptkit.run.runner import RunOptions, RunResult, run_suite, run_suite_async
    from promptkit.run.shards import Shard, parse_shard
    from promptkit.scorers import Case, Score, ScorerSetup, scorer, scorer_factory
    from promptkit.suite import Suite, Variant, load_suite

_EXPORTS = {
    "Advice": "promptkit.advise",
    "advise_run": "promptkit.advise",
    "estimate": "promptkit.api",
    "evaluate": "promptkit.api",
    "evaluate_pr": "promptkit.api",
    "merge_runs": "promptkit.api",
    "Shard": "promptkit.run.shards",
    "parse_shard": "promptkit.run.shards",
    "PrResult": "promptkit.api",
    "PullRequest": "promptkit.ci.pipeline",
    "Verdict": "promptkit.ci.pipeline",
    "prepare_pr": "promptkit.ci.pipeline",
    "render_prompt": "promptkit.api",
    "RunOutcome": "promptkit.ci.baseline",
    "load_outcome": "promptkit.ci.baseline",
    "run_baseline": "promptkit.ci.baseline",
    "save_baseline_file": "promptkit.ci.baseline",
    "with_git_baseline": "promptkit.ci.baseline",
    "CheckReport": "promptkit.ci.check",
    "DriftReport": "promptkit.ci.drift",
    "check_drift": "promptkit.ci.drift",
    "check_project": "promptkit.ci.check",
    "Comparison": "promptkit.results.compare",
    "compare_variants": "promptkit.results.compare",
    "Dataset": "promptkit.define.datasets",
    "Row": "promptkit.define.datasets",
    "load_dataset": "promptkit.define.datasets",
    "BadInput": "promptkit.errors",
    "DatasetError": "promptkit.errors",
    "GateFailed": "promptkit.errors",
    "PromptError": "promptkit.errors",
    "PromptkitError": "promptkit.errors",
    "ProviderConfigError": "promptkit.errors",
    "ProviderError": "promptkit.errors",
    "SuiteError": "promptkit.errors",
    "GateResult": "promptkit.ci.gate",
    "GateSpec": "promptkit.ci.gate",
    "gate_spec": "promptkit.ci.gate",
    "judge": "promptkit.ci.gate",
    "suite_gate": "promptkit.ci.gate",
    "RunRecord": "promptkit.results.history",
    "list_runs": "promptkit.results.history",
    "FinetuneReport": "promptkit.export",
    "check_finetune": "promptkit.export",
    "export_finetune": "promptkit.export",
    "Parsed": "promptkit.define.parsers",
    "make_parser": "promptkit.define.parsers",
    "Message": "promptkit.define.prompts",
    "Prompt": "promptkit.define.prompts",
    "PromptLibrary": "promptkit.define.prompts",
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
    "DryRun": "promptkit.run.estimate",
    "RunOptions": "promptkit.run.runner",
    "RunResult": "promptkit.run.runner",
    "run_suite": "promptkit.run.runner",
    "run_suite_async": "promptkit.run.runner",
    "Case": "promptkit.scorers",
    "Score": "promptkit.scorers",
    "ScorerSetup": "promptkit.scorers",
    "scorer": "promptkit.scorers",
    "scorer_factory": "promptkit.scorers",
    "Estimate": "promptkit.results.stats",
    "mean_interval": "promptkit.results.stats",
    "paired_difference": "promptkit.results.stats",
    "load_run": "promptkit.results.store",
    "Suite": "promptkit.suite",
    "Variant": "promptkit.suite",
    "load_suite": "promptkit.suite",
    "VariantSummary": "promptkit.results.summary",
    "classification_report": "promptkit.results.summary",
    "shots_sweep": "promptkit.results.sweeps",
    "summarize": "promptkit.results.summary",
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
