"""The README works as printed: its Python snippets and its commands, on the example suites.

The example project (prompts/, evals/, datasets/) is copied into a fresh git repository
and its suites are pointed at ``mock/readme``, a scripted model that answers every
task with its row's reference label (and every judge with PASS), so that each snippet
and command runs in a second. Only the model changes: the snippets are the README's
own text, and the commands are its lines with run ids filled in.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from promptkit import Request, register_mock
from tests.gitrepo import GIT_ENV, commit_all, git

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text("utf-8")
MOCK = "mock/readme"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README, re.MULTILINE | re.DOTALL)


def _references() -> list[tuple[str, str]]:
    """(input text, reference label) of every example dataset row, longest text first."""
    pairs = []
    for name, field, label in (
        ("sentiment.jsonl", "text", "label"),
        ("intent.jsonl", "message", "intent"),
    ):
        for line in (REPO / "datasets" / name).read_text("utf-8").splitlines():
            row = json.loads(line)
            pairs.append((row[field], str(row[label])))
    import csv

    with (REPO / "datasets" / "ratings.csv").open(encoding="utf-8", newline="") as file:
        pairs += [(row["review"], row["stars"]) for row in csv.DictReader(file)]
    return sorted(pairs, key=lambda p: -len(p[0]))


def _oracle(pairs: list[tuple[str, str]]) -> Any:
    """A model that knows every answer: the label of the row asked last in the prompt."""

    def answer(request: Request) -> str:
        text = request.messages[-1].content
        if "VERDICT" in request.messages[0].content:
            return "The answer matches the review.\nVERDICT: PASS"
        found = [(text.rfind(row), label) for row, label in pairs if row in text]
        return max(found)[1] if found else "unknown"

    return answer


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The README's example project, on the oracle model, committed as ``main``."""
    for folder in ("prompts", "evals", "datasets"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    for suite in (tmp_path / "evals").glob("*.yaml"):
        suite.write_text(suite.read_text("utf-8").replace("local/smollm2", MOCK), "utf-8")
    register_mock("readme", _oracle(_references()))
    monkeypatch.chdir(tmp_path)
    for name, value in GIT_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    (tmp_path / ".gitignore").write_text(".promptkit/\nout/\n")
    git(tmp_path, "init", "-q", "-b", "main")
    commit_all(tmp_path, "the README's example project")
    yield tmp_path


@pytest.fixture
def registries() -> Iterator[None]:
    """A snippet may register a provider or scorer (the plugin example does): undo it.

    Only what the snippet defined is dropped: built-ins loaded meanwhile must stay, as
    their modules are imported once per process and would not register again."""
    from promptkit.providers import base as providers
    from promptkit.scorers import base as scorers

    yield
    for registry in (providers._REGISTRY, scorers._SCORERS):
        for name, entry in list(registry.items()):
            defined = getattr(entry, "fn", entry)
            if getattr(defined, "__module__", None) == "readme":
                del registry[name]


@pytest.mark.parametrize("snippet", _blocks("python"), ids=lambda s: s.splitlines()[-1][:40])
def test_readme_python_snippet_runs(snippet: str, project: Path, registries: None) -> None:
    namespace: dict[str, Any] = {"__name__": "readme"}
    exec(compile(snippet, "README.md", "exec"), namespace)  # the README's text, unchanged


def _commands() -> list[str]:
    """Every ``promptkit`` line of the README's sh blocks, comments dropped."""
    lines = []
    for block in _blocks("sh"):
        for line in block.replace("\\\n", " ").splitlines():
            command = line.split("  #")[0].split(" # ")[0].strip()
            if command.startswith("promptkit "):
                lines.append(command)
    return lines


# Lines that need what this test does not start: a model server, transformers, training.
# Each is run for real elsewhere (tests/test_runner_llama_server.py,
# tests/test_hf_provider.py, tests/test_tune.py).
NOT_HERE = ("--model oai/m", "--model hf/smollm2", "promptkit tune ")


def test_readme_commands_run_as_printed(project: Path, cli: Any) -> None:
    commands = [c for c in _commands() if not any(part in c for part in NOT_HERE)]
    assert len(commands) >= 20, commands  # the parser still finds the README's commands
    # The runs first (in README order), then what reads them: compare, advise, report.
    commands.sort(key=lambda c: not c.startswith("promptkit eval "))
    runs: list[str] = []
    for command in commands:
        argv = shlex.split(_fill_run_ids(command, runs))[1:]
        code, out, err = cli(*argv)
        assert code == 0, f"{command}\n{out}\n{err}"
        runs += re.findall(r"^run (\S+): ", out, re.MULTILINE)
        if argv[:2] == ["export", "finetune"] and "--check" not in argv:
            assert Path(argv[argv.index("-o") + 1]).stat().st_size > 0


def _fill_run_ids(command: str, runs: list[str]) -> str:
    """The README's placeholders (RUN, RUN2, example ids) as ids of runs made above."""
    command = command.replace("local/smollm2", MOCK)  # variant ids name the model
    if not runs:
        return command
    command = re.sub(r"\b2024\d{4}-\d{6}-[\w-]+", runs[-1], command)
    command = re.sub(r"\b2026\d{4}\b(?!-)", runs[-1][:-2], command)  # a unique prefix
    command = re.sub(r"\bRUN2\b", runs[-2] if len(runs) > 1 else runs[-1], command)
    return re.sub(r"\bRUN\b", runs[-1], command)
