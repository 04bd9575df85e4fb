import promptkit

EXPECTED = [
    "Shard",
    "merge_runs",
    "parse_shard",
    "Advice",
    "BadInput",
    "Case",
    "CheckReport",
    "Comparison",
    "Completion",
    "Dataset",
    "DatasetError",
    "DryRun",
    "Estimate",
    "FinetuneReport",
    "GateFailed",
    "GateResult",
    "GateSpec",
    "Message",
    "MockProvider",
    "Parsed",
    "Prompt",
    "PromptError",
    "PromptLibrary",
    "PromptkitError",
    "Provider",
    "ProviderConfigError",
    "ProviderError",
    "Request",
    "Row",
    "RunOptions",
    "RunOutcome",
    "RunRecord",
    "RunResult",
    "Score",
    "ScorerSetup",
    "Suite",
    "SuiteError",
    "Variant",
    "VariantSummary",
    "advise_run",
    "check_finetune",
    "check_project",
    "classification_report",
    "compare_variants",
    "estimate",
    "evaluate",
    "export_finetune",
    "gate_spec",
    "get_provider",
    "html_report",
    "judge",
    "list_runs",
    "load_dataset",
    "load_outcome",
    "load_run",
    "load_suite",
    "make_parser",
    "mean_interval",
    "paired_difference",
    "register_mock",
    "register_provider",
    "render_markdown",
    "render_prompt",
    "check_drift",
    "DriftReport",
    "prepare_pr",
    "evaluate_pr",
    "PrResult",
    "PullRequest",
    "Verdict",
    "run_baseline",
    "run_suite",
    "run_suite_async",
    "save_baseline_file",
    "scorer",
    "scorer_factory",
    "shots_sweep",
    "suite_gate",
    "summarize",
    "with_git_baseline",
    "write_html_report",
    "write_junit",
]


def test_public_surface_is_pinned() -> None:
    assert promptkit.__all__ == sorted(EXPECTED)


def test_every_public_name_resolves() -> None:
    for name in promptkit.__all__:
        assert getattr(promptkit, name) is not None


def test_every_public_name_is_what_it_promises() -> None:
    # After the whole API is imported, no export may be shadowed by a submodule of the
    # same name (``promptkit.estimate`` once returned the module estimate.py).
    import importlib
    import inspect
    import types

    importlib.import_module("promptkit.api")
    for name in promptkit.__all__:
        value = getattr(promptkit, name)
        assert not isinstance(value, types.ModuleType), name
        if name[0].isupper():
            assert inspect.isclass(value), name
        else:
            assert callable(value), name
        assert getattr(value, "__name__", name) == name, name


def test_readme_estimate_snippet_calls_the_function(tmp_path, monkeypatch) -> None:
    import importlib

    importlib.import_module("promptkit.api")
    importlib.import_module("promptkit.run.estimate")
    assert callable(promptkit.estimate)
    assert promptkit.estimate.__module__ == "promptkit.api"
