"""The Markdown summary and JUnit text: a snapshot of a failed gate, untrusted text kept inert,
missing values never printed as "nan"."""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write
from tests.gitrepo import FRONT, WORSE, git, make_repo
from tests.test_suite import make_project

SNAPSHOT = Path(__file__).parent / "snapshots" / "markdown_gate_failed.md"


def test_markdown_snapshot(cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_repo(tmp_path, monkeypatch)
    base = git(tmp_path, "rev-parse", "--short=7", "HEAD")
    write(tmp_path / "prompts" / "cls" / "v2.jinja", WORSE)
    code, out, _ = cli(
        "eval", "evals/s.yaml", "-q", "--baseline", "main", "--gate", "--markdown", "s.md"
    )
    assert code == 1
    run_id = re.search(r"^run (\S+): ", out, re.MULTILINE)
    assert run_id
    text = (tmp_path / "s.md").read_text()
    text = text.replace(run_id.group(1), "RUN-ID").replace(base, "BASE")
    if os.environ.get("PROMPTKIT_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(text, encoding="utf-8")
    assert text == SNAPSHOT.read_text(encoding="utf-8")


def test_model_output_cannot_inject_markdown_or_html(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite = make_repo(tmp_path, monkeypatch)
    evil = "<img src=x onerror=alert(1)> | @octocat `x` [link](http://e.example)"
    suite.write_text(
        suite.read_text().replace(
            "    default: pos", f"      - {{match: '^Evil: ', reply: '{evil}'}}\n    default: pos"
        )
    )
    write(
        tmp_path / "prompts" / "cls" / "v2.jinja",
        FRONT + '{% message "user" %}Evil: {{ text }}{% endmessage %}\n',
    )
    code, _, _ = cli("eval", "evals/s.yaml", "-q", "--baseline", "main", "--markdown", "s.md")
    assert code == 0  # no --gate: the rules are reported, not enforced
    text = (tmp_path / "s.md").read_text()
    cell = "``<img src=x onerror=alert(1)> \\| @octocat `x` [link](http://e.example)``"
    assert f"| `neg` | {cell} |" in text
    outside_code = re.sub(r"(`+).*?\1", "", text)
    assert "<img" not in outside_code and "@octocat" not in outside_code


def test_junit_failure_text_never_shows_nan(cli: Any, tmp_path: Path) -> None:
    """A row the parser could not read has no parsed value, a row it could has no parse
    error: pandas holds both as NaN, and the failure text must not print it."""
    suite = make_project(
        tmp_path,
        "dataset: {path: ../datasets/rows.jsonl, id: id}\ninputs: [text]\nreference: label\n"
        "prompts: [cls@v1]\nscorers: [label_accuracy]\nmodels:\n  - name: mock/scripted\n"
        "    responses: [{match: 'row 2', reply: pos}]\n    default: maybe\n",
    )
    code, _, err = cli("eval", str(suite), "-q", "--junit", "j.xml")
    assert code == 0, err
    failures = {
        str(case.get("name")): case.findtext("failure") or ""
        for case in ET.parse(tmp_path / "j.xml").getroot().iter("testcase")
    }
    assert "parsed: pos" in failures["r2"] and "parse error" not in failures["r2"]
    assert "parsed: (none)" in failures["r0"]
    assert "parse error: no label of ['pos', 'neg'] in the reply" in failures["r0"]
    assert all("nan" not in text for text in failures.values()), failures
