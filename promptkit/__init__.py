"""promptkit: versioned prompt templates, evaluated with honest statistics on any model.

Public names are loaded on first use (PEP 562), so ``import promptkit`` and
``promptkit --help`` stay fast and never import litellm, llama_cpp or torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from promptkit.api import estimate, evaluate, render_prompt
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
    from promptkit.runner import RunOptions, RunResult, run_suite, run_suite_async
    from promptkit.scorers import Case, Score, scorer
    from promptkit.stats import Estimate, mean_interval
    from promptkit.store import load_run
    from promptkit.suite import Suite, Variant, load_suite
    from promptkit.summary import VariantSummary, summarize

_EXPORTS = {
    "estimate": "promptkit.api",
    "evaluate": "promptkit.api",
    "render_prompt": "promptkit.api",
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
    "Parsed": "promptkit.parsers",
    "make_parser": "promptkit.parsers",
    "Message": "promptkit.prompts",
    "Prompt": "promptkit.prompts",
    "PromptLibrary": "promptkit.prompts",
    "Completion": "promptkit.providers",
    "MockProvider": "promptkit.providers",
    "Provider": "promptkit.providers",
    "Request": "promptkit.providers",
    "get_provider": "promptkit.providers",
    "register_mock": "promptkit.providers",
    "register_provider": "promptkit.providers",
    "DryRun": "promptkit.estimate",
    "RunOptions": "promptkit.runner",
    "RunResult": "promptkit.runner",
    "run_suite": "promptkit.runner",
    "run_suite_async": "promptkit.runner",
    "Case": "promptkit.scorers",
    "Score": "promptkit.scorers",
    "scorer": "promptkit.scorers",
    "Estimate": "promptkit.stats",
    "mean_interval": "promptkit.stats",
    "load_run": "promptkit.store",
    "Suite": "promptkit.suite",
    "Variant": "promptkit.suite",
    "load_suite": "promptkit.suite",
    "VariantSummary": "promptkit.summary",
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
