import promptkit

EXPECTED = [
    "BadInput",
    "Case",
    "Completion",
    "Dataset",
    "DryRun",
    "DatasetError",
    "Estimate",
    "GateFailed",
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
    "RunResult",
    "Score",
    "Suite",
    "SuiteError",
    "Variant",
    "VariantSummary",
    "estimate",
    "evaluate",
    "get_provider",
    "load_dataset",
    "load_run",
    "load_suite",
    "make_parser",
    "mean_interval",
    "register_mock",
    "register_provider",
    "render_prompt",
    "run_suite",
    "run_suite_async",
    "scorer",
    "summarize",
]


def test_public_surface_is_pinned() -> None:
    assert promptkit.__all__ == sorted(EXPECTED)


def test_every_public_name_resolves() -> None:
    for name in promptkit.__all__:
        assert getattr(promptkit, name) is not None
