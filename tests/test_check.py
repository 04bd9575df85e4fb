"""``promptkit check``: validation without a model, and released versions stay immutable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from promptkit.ci.check import check_project
from tests.conftest import write
from tests.gitrepo import BETTER, FRONT, commit_all, git, make_repo


def test_editing_a_released_version_in_place_fails(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_repo(tmp_path, monkeypatch)
    code, out, _ = cli("check")
    assert code == 0
    assert "check passed: 1 prompt files and 1 suites" in out

    v1 = tmp_path / "prompts" / "cls" / "v1.jinja"
    v1.write_text(v1.read_text().replace("Label:", "Label this:"))
    base = git(tmp_path, "rev-parse", "--short=7", "HEAD")
    code, _, err = cli("check")
    assert code == 1
    assert err.splitlines() == [
        f"promptkit: prompts/cls/v1.jinja: released version changed since the merge base {base}; "
        "its runs measured the old text (restore it with "
        f"'git checkout {base} -- prompts/cls/v1.jinja' and put the change in a new version, "
        "prompts/cls/v2.jinja)",
        "check failed: 1 problem(s) in 1 prompt files and 1 suites",
    ]

    # The fix the message asks for: restore v1, add the change as v2.
    git(tmp_path, "checkout", base, "--", "prompts/cls/v1.jinja")
    write(tmp_path / "prompts" / "cls" / "v2.jinja", BETTER)
    code, out, _ = cli("check")
    assert code == 0, out


def test_merge_base_is_the_default_ref(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a branch, versions released on main are frozen; the branch's own are not."""
    make_repo(tmp_path, monkeypatch)
    git(tmp_path, "checkout", "-q", "-b", "feature")
    write(tmp_path / "prompts" / "cls" / "v2.jinja", BETTER)
    commit_all(tmp_path, "add v2")
    v2 = tmp_path / "prompts" / "cls" / "v2.jinja"
    v2.write_text(v2.read_text().replace("Careful", "Very careful"))
    code, _, err = cli("check")
    assert code == 0, err  # v2 is not on main yet: still a draft
    code, _, err = cli("check", "--against", "HEAD")
    assert code == 1
    assert "prompts/cls/v2.jinja: released version changed since HEAD" in err
    (tmp_path / "prompts" / "cls" / "v1.jinja").unlink()
    code, out, _ = cli("check", "--against", "main", "--prompts-dir", "prompts")
    assert code == 0  # deleting an old version is allowed, and said
    assert "note: prompts/cls/v1.jinja: deleted since main" in out


def test_bad_ref_and_missing_base(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_repo(tmp_path, monkeypatch)
    code, _, err = cli("check", "--against", "nope")
    assert code == 2
    assert "unknown git ref 'nope'" in err
    git(tmp_path, "branch", "-m", "main", "trunk")
    code, _, err = cli("check")
    assert code == 2
    assert "no origin/main or main branch" in err and "pass --against REF" in err
    code, _, _ = cli("check", "--no-git")
    assert code == 0


def test_prompt_problems_are_listed_with_file_line_and_fix(tmp_path: Path) -> None:
    prompts = tmp_path / "prompts"
    write(prompts / "ok" / "v1.jinja", FRONT + '{% message "user" %}{{ text }}{% endmessage %}')
    write(
        prompts / "undeclared" / "v1.jinja",
        FRONT + '{% message "user" %}\n{{ text }} in {{ lang }}\n{% endmessage %}',
    )
    write(
        prompts / "unused" / "v1.jinja",
        FRONT.replace("[text]", "[text, lang]") + '{% message "user" %}{{ text }}{% endmessage %}',
    )
    write(prompts / "syntax" / "v1.jinja", FRONT + '{% message "user" %}{{ text }{% endmessage %}')
    write(
        prompts / "parser" / "v1.jinja",
        FRONT.replace("type: label, labels: [pos, neg]", "type: lable")
        + '{% message "user" %}{{ text }}{% endmessage %}',
    )
    write(prompts / "named" / "v1-draft.jinja", "x")
    report = check_project([], [prompts], use_git=False)
    problems = [str(p).replace(str(prompts), "P") for p in report.problems]
    assert report.prompts == 5
    assert len(problems) == 5, problems
    assert (
        "P/named/v1-draft.jinja: not a version file, so promptkit never loads it "
        "(name it vN.jinja (v1, v2, ...) with no leading zeros)" in problems
    )
    assert any(
        p.startswith("P/parser/v1.jinja:4: 'parser.type' must be one of text, label, json, regex")
        and "did you mean 'label'?" in p
        for p in problems
    )
    assert any(p.startswith("P/syntax/v1.jinja:6: ") for p in problems)
    assert (
        "P/undeclared/v1.jinja:7: uses variables it does not declare: lang "
        "(list them in the front matter: inputs: [lang, text])" in problems
    )
    assert (
        "P/unused/v1.jinja: declares inputs it never uses: lang "
        "(use them in the template or drop them from inputs)" in problems
    )


def test_suite_problems_are_found_without_calling_a_model(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite = make_repo(tmp_path, monkeypatch)
    text = suite.read_text()
    write(tmp_path / "evals" / "scorer.yaml", text.replace("[label_accuracy]", "[acuracy]"))
    write(tmp_path / "evals" / "ref.yaml", text.replace("prompts: [cls]", "prompts: [cls@v7]"))
    write(tmp_path / "evals" / "gate.yaml", text.replace("min: {label_accuracy", "min: {acc"))
    write(
        tmp_path / "evals" / "data.yaml",
        text.replace("rows.jsonl", "missing.jsonl"),
    )
    write(  # renders only on a real row: the template reads a column the suite does not pass
        tmp_path / "prompts" / "cls" / "v2.jinja",
        BETTER.replace("{{ text }}", "{{ text.upper() }} {{ text.nope }}"),
    )
    write(tmp_path / "evals" / "render.yaml", text.replace("prompts: [cls]", "prompts: [cls@v2]"))
    code, _, err = cli("check", "--no-git")
    assert code == 1
    lines = err.splitlines()
    assert lines[-1] == "check failed: 5 problem(s) in 2 prompt files and 6 suites"
    joined = "\n".join(lines)
    assert "evals/scorer.yaml:14: unknown scorer 'acuracy'" in joined
    assert "evals/ref.yaml:" in joined and "unknown version cls@v7 in " in joined
    assert "prompts/cls (available: cls@v1, cls@v2)" in joined
    assert "evals/gate.yaml:16: gate 'min' names unknown metric 'acc'" in joined
    assert "datasets/missing.jsonl: dataset file not found" in joined
    assert "prompts/cls/v2.jinja:6: undefined variable" in joined


def test_repository_examples_pass(cli: Any, repo: Path) -> None:
    suites = sorted(str(p) for p in (repo / "evals").glob("*.yaml"))
    code, out, err = cli("check", *suites, "--prompts-dir", str(repo / "prompts"), "--no-git")
    assert code == 0, err
    files = len(list((repo / "prompts").glob("*/v*.jinja")))
    assert f"check passed: {files} prompt files and {len(suites)} suites" in out
