"""``promptkit runs`` and ``promptkit show``: the run history, reprinted from disk."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write
from tests.gitrepo import WORSE, git, make_repo


def _run_id(out: str) -> str:
    match = re.search(r"^run (\S+): ", out, re.MULTILINE)
    assert match, out
    return match.group(1)


def _two_runs(cli: Any, root: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    make_repo(root, monkeypatch)
    code, out, _ = cli("eval", "evals/s.yaml", "--quiet")
    assert code == 0
    first = _run_id(out)
    write(root / "prompts" / "cls" / "v2.jinja", WORSE)
    code, out, _ = cli(
        "eval", "evals/s.yaml", "--quiet", "--baseline", "main", "--gate", "--markdown", "eval.md"
    )
    assert code == 1
    return first, _run_id(out)


def test_runs_lists_commit_dirty_flag_suite_and_headline(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = _two_runs(cli, tmp_path, monkeypatch)
    commit = git(tmp_path, "rev-parse", "HEAD")
    code, out, _ = cli("runs", "--json")
    assert code == 0
    records = {r["id"]: r for r in map(json.loads, out.splitlines())}
    assert set(records) == {first, second}
    assert records[first]["commit"] == commit and records[first]["dirty"] is False
    assert records[second]["dirty"] is True  # v2 is not committed
    assert records[first]["suite"] == "s" and records[first]["cases"] == 30
    assert records[first]["headline"] == {
        "label_accuracy": [pytest.approx(25 / 30), "cls@v1 | mock/scripted | k=0"]
    }
    # the base variant ran in the second run but is not its headline
    assert records[second]["headline"]["label_accuracy"][1] == "cls@v2 | mock/scripted | k=0"
    assert records[second]["variants"] == 2 and records[second]["gate"] is False
    assert records[second]["baseline"].startswith("main at ")

    code, out, _ = cli("runs")
    assert code == 0
    assert first in out and second in out
    assert f"{commit[:7]} (dirty)" in out
    assert "label_accuracy 0.833 (cls@v1 | mock/scripted | k=0)" in out
    assert "gate failed" in out


def test_show_reprints_summary_comparison_and_gate(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, second = _two_runs(cli, tmp_path, monkeypatch)
    code, out, _ = cli("show", second[:-2], "--markdown", "show.md")  # a unique prefix works
    assert code == 0
    assert f"run {second}  suite s" in out
    assert "0.500 [0.332, 0.668]" in out and "0.833 [0.664, 0.927]" in out
    assert "-0.333 [" in out  # the paired difference, recomputed from the journal
    assert "gate FAILED (1 of 2 rules)" in out
    # The same outcome gives the same Markdown whether written by eval or by show.
    assert (tmp_path / "show.md").read_text() == (tmp_path / "eval.md").read_text()


def test_show_unknown_run_exits_2(cli: Any, tmp_path: Path) -> None:
    code, _, err = cli("show", "nosuchrun")
    assert code == 2
    assert "no run matches 'nosuchrun'" in err
    code, out, _ = cli("runs")
    assert code == 0 and "no runs under" in out


def test_latest_run_within_one_second_is_the_one_made_last(tmp_path: Path) -> None:
    import os

    from promptkit.results.store import RunStore

    root = tmp_path / "runs"
    made_first = write(root / "20240501-120000-s-ffffff" / "meta.json", "{}")
    made_last = write(root / "20240501-120000-s-000000" / "meta.json", "{}")
    os.utime(made_first, ns=(1_000_000_000, 1_000_000_000))
    os.utime(made_last, ns=(2_000_000_000, 2_000_000_000))
    write(root / "20240501-115959-s-aaaaaa" / "meta.json", "{}")  # a second earlier
    assert RunStore(root).find(None).name == "20240501-120000-s-000000"
