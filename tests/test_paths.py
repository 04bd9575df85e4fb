"""Where runs go: the project's ``.promptkit/``, whatever folder a command is typed in."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from promptkit.paths import DEFAULT_ROOT, find_project, runs_root
from tests.test_suite import BASE, make_project


def test_the_nearest_marked_folder_is_the_project(tmp_path: Path) -> None:
    (tmp_path / "proj" / "prompts" / "cls").mkdir(parents=True)
    (tmp_path / "proj" / "evals").mkdir()
    assert find_project(tmp_path / "proj" / "prompts" / "cls") == tmp_path / "proj"
    assert find_project(tmp_path / "proj" / "evals") == tmp_path / "proj"
    (tmp_path / "proj" / "evals" / ".promptkit").mkdir()  # runs already kept there
    assert find_project(tmp_path / "proj" / "evals") == tmp_path / "proj" / "evals"


def test_the_search_stops_at_the_git_root(tmp_path: Path) -> None:
    (tmp_path / "prompts").mkdir()  # a marker above the repository is another project's
    deep = tmp_path / "repo" / "a" / "b"
    deep.mkdir(parents=True)
    (tmp_path / "repo" / ".git").mkdir()
    assert find_project(deep) == tmp_path / "repo"
    assert find_project(tmp_path / "repo" / "a" / ".." / "a") == tmp_path / "repo"


def test_outside_any_project_there_is_none(tmp_path: Path) -> None:
    (tmp_path / "lone").mkdir()
    assert find_project(tmp_path / "lone") is None


def test_the_default_root_follows_the_current_project_then_the_suites(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite = make_project(tmp_path / "proj", BASE)
    monkeypatch.chdir(tmp_path / "proj")
    assert runs_root() == DEFAULT_ROOT  # relative: this folder is the project
    monkeypatch.chdir(tmp_path / "proj" / "prompts")
    assert runs_root() == tmp_path / "proj" / DEFAULT_ROOT
    (tmp_path / "other").mkdir()
    monkeypatch.chdir(tmp_path / "other")
    assert runs_root() == DEFAULT_ROOT  # no project here, no suite: this folder
    assert runs_root(suite=os.path.relpath(suite)) == tmp_path / "proj" / DEFAULT_ROOT
    (tmp_path / "other" / "prompts").mkdir()  # now a project of its own: it wins
    assert runs_root(suite=suite) == DEFAULT_ROOT
    assert runs_root("elsewhere/runs", suite=suite) == Path("elsewhere/runs")  # as given


def _run_folder(out: str) -> str:
    match = re.search(r"^run (\S+): .* -> (\S+)$", out, re.MULTILINE)
    assert match, out
    return match.group(2)


def test_eval_from_a_subfolder_keeps_runs_in_the_project(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_project(tmp_path / "proj", BASE)
    proj = tmp_path / "proj"
    monkeypatch.chdir(proj / "evals")
    code, out, err = cli("eval", "s.yaml", "-q")
    assert code == 0, err
    assert f"promptkit: runs are kept in {proj / '.promptkit' / 'runs'}" in err
    assert Path(_run_folder(out)).parent == proj / ".promptkit" / "runs"
    assert not (proj / "evals" / ".promptkit").exists()

    monkeypatch.chdir(proj / "prompts" / "cls")
    code, out, err = cli("runs", "--json")
    assert code == 0 and out.count('"suite": "s"') == 1
    assert f"runs are kept in {proj / '.promptkit' / 'runs'}" in err
    code, out, _ = cli("show")
    assert code == 0 and "cls@v1" in out
    assert not (proj / "prompts" / "cls" / ".promptkit").exists()


def test_eval_outside_any_project_keeps_runs_in_the_suites(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_project(tmp_path / "proj", BASE)
    (tmp_path / "other").mkdir()
    monkeypatch.chdir(tmp_path / "other")
    code, out, err = cli("eval", "../proj/evals/s.yaml", "-q")
    assert code == 0, err
    runs = tmp_path / "proj" / ".promptkit" / "runs"
    assert f"promptkit: runs are kept in {runs}" in err
    assert Path(_run_folder(out)).parent == runs
    assert not (tmp_path / "other" / ".promptkit").exists()
    assert len(list(runs.iterdir())) == 1


def test_in_the_project_folder_nothing_is_said(cli: Any, tmp_path: Path) -> None:
    suite = make_project(tmp_path, BASE)
    code, out, err = cli("eval", str(suite), "-q")
    assert code == 0 and "runs are kept" not in err
    assert _run_folder(out).startswith(str(DEFAULT_ROOT))


def test_an_explicit_root_is_used_as_given(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_project(tmp_path / "proj", BASE)
    monkeypatch.chdir(tmp_path / "proj" / "evals")
    code, out, err = cli("eval", "s.yaml", "-q")
    assert code == 0, err
    code, out, err = cli("runs", "--root", "nowhere")
    assert code == 0 and "no runs under nowhere/" in out and "runs are kept" not in err
