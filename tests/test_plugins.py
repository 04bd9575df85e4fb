"""Plugins by entry point: a third-party distribution adds a provider and a scorer.

The distribution in tests/fixtures/echo_plugin is "installed" the way an installer
leaves it, a package beside a ``.dist-info`` whose ``entry_points.txt`` comes from
its pyproject.toml, into a folder that a ``promptkit`` subprocess finds on
PYTHONPATH. No pip, no network, no build backend needed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import promptkit.plugins as plugins
from promptkit import BadInput, SuiteError, load_run
from tests.conftest import REPO, write

tomllib = pytest.importorskip("tomllib")

FIXTURE = REPO / "tests" / "fixtures" / "echo_plugin"

SUITE = """\
dataset: {{path: rows.jsonl, id: id}}
inputs: [text]
prompts: [echo]
prompts_dir: prompts
models: [{models}]
scorers: [{scorers}]
"""
ROWS = '{"id": "a", "text": "hello!"}\n{"id": "b", "text": "quiet"}\n{"id": "c", "text": "HEY!"}\n'


def install(source: Path, target: Path) -> None:
    """Lay ``source`` out in ``target`` as an installed distribution, entry points included."""
    pyproject = tomllib.loads((source / "pyproject.toml").read_text())
    project = pyproject["project"]
    for package in pyproject["tool"]["setuptools"]["packages"]:
        shutil.copytree(source / package, target / package)
    info = target / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    write(
        info / "METADATA",
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n",
    )
    sections = [
        f"[{group}]\n" + "".join(f"{name} = {value}\n" for name, value in entries.items())
        for group, entries in project["entry-points"].items()
    ]
    write(info / "entry_points.txt", "\n".join(sections))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    install(FIXTURE, target)
    return target


def promptkit(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO)])}
    env.pop("PROMPTKIT_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "promptkit", *args], capture_output=True, text=True, env=env
    )


def suite(tmp_path: Path, *, models: str = "echo/parrot", scorers: str = "shouts") -> Path:
    write(
        tmp_path / "prompts" / "echo" / "v1.jinja", '{% message "user" %}{{ text }}{% endmessage %}'
    )
    write(tmp_path / "rows.jsonl", ROWS)
    return write(tmp_path / "s.yaml", SUITE.format(models=models, scorers=scorers))


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_plugin_provider_and_scorer_run_in_eval(site: Path, tmp_path: Path) -> None:
    path = suite(tmp_path, scorers="shouts, {shouts: {mark: '?', metric: asks}}")
    done = promptkit(site, "eval", str(path), "--quiet")
    assert done.returncode == 0, done.stderr
    rows = load_run().set_index("row_id").sort_index()
    assert list(rows.index) == ["a", "b", "c"]
    assert list(rows["output"]) == ["parrot: hello!", "parrot: quiet", "parrot: HEY!"]
    assert list(rows["score.shouts"]) == [1.0, 0.0, 1.0]
    assert list(rows["score.asks"]) == [0.0, 0.0, 0.0]


def test_broken_plugin_is_one_line_naming_it(site: Path, tmp_path: Path) -> None:
    path = suite(tmp_path, models="broken/m")
    done = promptkit(site, "eval", str(path), "--quiet")
    assert done.returncode == 2
    assert one_line(done.stderr) == (  # found while the suite's model entries are checked
        f"promptkit: error: {path}:5: entry point 'broken' (promptkit_echo.broken) of "
        "promptkit-echo, "
        "group promptkit.providers failed to load: ModuleNotFoundError: "
        "No module named 'promptkit_echo_missing_dependency' (fix or uninstall promptkit-echo)"
    )


def test_plugin_that_registers_nothing_is_named(site: Path, tmp_path: Path) -> None:
    path = suite(tmp_path, scorers="whisper")
    done = promptkit(site, "eval", str(path), "--quiet")
    assert done.returncode == 2
    assert one_line(done.stderr) == (
        f"promptkit: error: {path}:6: entry point 'whisper' (promptkit_echo.scorers) of "
        "promptkit-echo, group promptkit.scorers did not register the scorer 'whisper' "
        "(its module must register 'whisper' with @scorer or @scorer_factory)"
    )


def test_unknown_names_list_plugin_names(site: Path, tmp_path: Path) -> None:
    done = promptkit(site, "eval", str(suite(tmp_path, scorers="shout")), "--quiet")
    assert done.returncode == 2
    line = one_line(done.stderr)
    assert "unknown scorer 'shout'" in line
    assert "shouts, " in line and "exact_match, " in line and "whisper" in line
    done = promptkit(site, "eval", str(suite(tmp_path, models="nosuch/m")), "--quiet")
    assert done.returncode == 2
    assert one_line(done.stderr).endswith(
        "(use broken/, echo/, hf/, local/, mock/, oai/, tuned/ "
        "or a litellm provider such as openai/, anthropic/, ollama/)"
    )


def run_python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout


def test_every_built_in_is_declared() -> None:
    """Each name a built-in module registers has its own entry point, and nothing else does."""
    code = (
        "import importlib, json\n"
        "from promptkit import plugins\n"
        "from promptkit.providers.base import _REGISTRY\n"
        "from promptkit.scorers.base import _SCORERS\n"
        "out = {}\n"
        "for group, registry in [('promptkit.providers', _REGISTRY), ('promptkit.scorers', _SCORERS)]:\n"
        "    own = [e for es in plugins._declared(group).values() for e in es if e.distribution == 'promptkit']\n"
        "    for entry in own:\n"
        "        importlib.import_module(entry.value)\n"
        "    out[group] = [sorted(e.name for e in own), sorted(registry)]\n"
        "print(json.dumps(out))\n"
    )
    found = json.loads(run_python(code))
    for declared, registered in found.values():
        assert declared == registered
    assert "*" in found["promptkit.providers"][0] and "exact_match" in found["promptkit.scorers"][0]


def test_entry_points_load_only_when_named() -> None:
    code = (
        "import sys\n"
        "from promptkit.scorers import make_scorer, registered_scorers\n"
        "from promptkit.providers import provider_prefixes\n"
        "names = registered_scorers() + provider_prefixes()\n"
        "families = [f'promptkit.scorers.{f}' for f in ('text', 'judge', 'bounds')]\n"
        "print([f in sys.modules for f in families], 'llm_judge' in names, 'hf' in names)\n"
        "make_scorer('contains')\n"
        "print([f in sys.modules for f in families])\n"
    )
    assert run_python(code).splitlines() == [
        "[False, False, False] True True",
        "[True, False, False]",
    ]


def test_missing_own_entry_points_say_how_to_fix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A source tree never installed (or an install older than it): one line, the fix."""
    monkeypatch.setattr(plugins, "SOURCE_PYPROJECT", tmp_path / "pyproject.toml")
    monkeypatch.setattr(plugins.metadata, "entry_points", lambda group: [])
    plugins._declared.cache_clear()
    group = plugins.PluginGroup("promptkit.scorers", "scorer", {}, SuiteError, "@scorer")
    try:
        with pytest.raises(
            BadInput, match=r"promptkit's own entry points \(group promptkit.scorers\)"
        ):
            group.ensure("exact_match")
    finally:
        plugins._declared.cache_clear()
