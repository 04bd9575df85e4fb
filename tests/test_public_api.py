import promptkit

EXPECTED = [
    "BadInput",
    "Case",
    "CheckReport",
    "Completion",
    "Dataset",
    "DatasetError",
    "Estimate",
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
    "RunOutcome",
    "RunRecord",
    "RunResult",
    "Score",
    "Suite",
    "SuiteError",
    "Variant",
    "VariantSummary",
    "check_project",
    "evaluate",
    "gate_spec",
    "get_provider",
    "judge",
    "list_runs",
    "load_dataset",
    "load_outcome",
    "load_run",
    "load_suite",
    "make_parser",
    "mean_interval",
    "register_mock",
    "register_provider",
    "render_markdown",
    "render_prompt",
    "run_baseline",
    "run_suite",
    "run_suite_async",
    "save_baseline_file",
    "scorer",
    "suite_gate",
    "summarize",
    "with_git_baseline",
    "write_junit",
]


def test_public_surface_is_pinned() -> None:
    assert promptkit.__all__ == sorted(EXPECTED)


def test_every_public_name_resolves() -> None:
    for name in promptkit.__all__:
        assert getattr(promptkit, name) is not None
